// Line numbers for CSV messages ("line 12: label 'maybe' is not a declared class"). csv-parse's own line
// count is off for CRLF line breaks inside quoted fields, so lines are counted here from the bytes: the
// stream passes through this counter on its way to the parser, and since records arrive in file order
// the counter only ever moves forward (each byte is looked at once; chunks are dropped once passed).

import { Transform, type TransformCallback } from 'node:stream';

export class LineCounter extends Transform {
  private readonly chunks: Buffer[] = [];
  /** Absolute byte offset of chunks[0][0]. */
  private base: number;
  /** Cursor: byte offset within chunks[0], absolute offset, and '\n' bytes before it. */
  private at = 0;
  private pos: number;
  private newlines = 0;

  constructor(startOffset: number) {
    super();
    this.base = startOffset;
    this.pos = startOffset;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.chunks.push(chunk);
    cb(null, chunk);
  }

  private byte(): number | undefined {
    while (this.chunks.length > 0 && this.at >= this.chunks[0]!.length) {
      this.base += this.chunks.shift()!.length;
      this.at = 0;
    }
    return this.chunks[0]?.[this.at];
  }

  private step(): void {
    if (this.byte() === 0x0a) this.newlines++;
    this.at++;
    this.pos++;
  }

  /**
   * 1-based line of the first non-blank byte at or after `start` (before `end`): the line a record
   * starting at `start` begins on, after any empty lines the parser skipped. Calls must not go backwards.
   */
  lineOf(start: number, end: number): number {
    while (this.pos < start && this.byte() !== undefined) this.step();
    while (this.pos < end) {
      const b = this.byte();
      if (b !== 0x0a && b !== 0x0d) break;
      this.step();
    }
    return this.newlines + 1;
  }
}
