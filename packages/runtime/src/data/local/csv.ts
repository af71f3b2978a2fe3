// CSV tables: a header row naming the columns, one sample per row. Opening parses the whole file once,
// streamed (csv-parse), to validate rows and learn labels; it keeps only each usable row's byte range and
// label (24 bytes a row with its line number). A batch re-reads and re-parses just its rows' byte ranges.

import { createReadStream, promises as fsp } from 'node:fs';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import type { CsvDataDeclaration } from './declaration.js';
import { LineCounter } from './csv-lines.js';
import { DataError } from './errors.js';
import { ReportBuilder, summarizeSkips, type LoadReport, type SkipReason } from './report.js';
import { BadSet, checkReadArgs, type ReadFailure, type SampleSource } from './source.js';

export interface CsvOptions {
  maxReported?: number;
}

/** Growable typed arrays, so a million rows cost 24 MB rather than a million objects. */
class RowIndex {
  starts = new Float64Array(1024);
  ends = new Float64Array(1024);
  labels = new Int32Array(1024);
  lines = new Int32Array(1024);
  n = 0;
  push(start: number, end: number, label: number, line: number): void {
    if (this.n === this.starts.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
      this.labels = grow(this.labels);
      this.lines = grow(this.lines);
    }
    this.starts[this.n] = start;
    this.ends[this.n] = end;
    this.labels[this.n] = label;
    this.lines[this.n] = line;
    this.n++;
  }
}

/** Parses one feature cell: empty is missing, anything Number() cannot read as finite is non-numeric. */
function cell(v: string | undefined): number | 'missing-value' | 'non-numeric' {
  if (v === undefined || v.trim() === '') return 'missing-value';
  const x = Number(v);
  return Number.isFinite(x) ? x : 'non-numeric';
}

export class CsvSource implements SampleSource {
  readonly sampleShape: readonly number[];
  readonly classNames: readonly string[];
  readonly labels: Int32Array;
  private readonly bad = new BadSet();
  private readonly ss: number;
  private readonly shift: Float64Array;
  private readonly div: Float64Array;

  constructor(
    readonly declaration: CsvDataDeclaration,
    readonly file: string,
    /** Column index of each feature, in declaration order. */
    private readonly featureCols: readonly number[],
    private readonly rows: RowIndex,
    private readonly builder: ReportBuilder,
  ) {
    this.sampleShape = declaration.inputShape.slice();
    this.classNames = declaration.classNames.slice();
    this.ss = featureCols.length;
    this.labels = rows.labels.subarray(0, rows.n);
    const s = declaration.preprocessing.scaling;
    // value' = (value - shift) / div, per feature.
    this.shift = Float64Array.from(featureCols, (_, j) => (s.kind === 'minmax' ? s.min[j]! : s.kind === 'standard' ? s.mean[j]! : 0));
    this.div = Float64Array.from(featureCols, (_, j) => (s.kind === 'minmax' ? s.max[j]! - s.min[j]! : s.kind === 'standard' ? s.std[j]! : 1));
  }

  get size(): number {
    return this.rows.n;
  }

  get report(): LoadReport {
    return this.builder.report;
  }

  describe(i: number): string {
    return `${this.file} line ${this.rows.lines[i]}`;
  }

  isBad(i: number): boolean {
    return this.bad.has(i);
  }

  async read(indices: readonly number[], slots: readonly number[], out: Float32Array): Promise<ReadFailure[]> {
    checkReadArgs(this.size, this.ss, indices, slots, out);
    const failures: ReadFailure[] = [];
    const fail = (i: number, reason: ReadFailure['reason'] & SkipReason, detail: string): void => {
      if (!this.bad.has(i)) {
        this.bad.add(i);
        this.builder.demote(this.labels[i]!, this.describe(i), reason, detail);
      }
      failures.push({ index: i, reason, detail });
    };
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(this.file, 'r');
    } catch (e) {
      for (const i of indices) fail(i, 'unreadable', (e as NodeJS.ErrnoException).code ?? (e as Error).message);
      return failures;
    }
    try {
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k]!;
        const start = this.rows.starts[i]!;
        const len = this.rows.ends[i]! - start;
        const buf = Buffer.alloc(len);
        let record: string[] | undefined;
        try {
          const { bytesRead } = await fh.read(buf, 0, len, start);
          const recs = parseSync(buf.subarray(0, bytesRead), {
            delimiter: this.declaration.preprocessing.delimiter,
            relax_column_count: true,
            skip_empty_lines: true,
          }) as string[][];
          record = recs.length === 1 ? recs[0] : undefined;
        } catch {
          record = undefined;
        }
        if (!record) {
          fail(i, 'unreadable', 'row changed since the file was opened');
          continue;
        }
        const o = slots[k]! * this.ss;
        let problem: 'missing-value' | 'non-numeric' | null = null;
        for (let j = 0; j < this.ss; j++) {
          const v = cell(record[this.featureCols[j]!]);
          if (typeof v !== 'number') {
            problem = v;
            break;
          }
          out[o + j] = (v - this.shift[j]!) / this.div[j]!;
        }
        if (problem) fail(i, problem, 'row changed since the file was opened');
      }
    } finally {
      await fh.close();
    }
    return failures;
  }
}

/**
 * Opens a CSV file against a CSV declaration. The first row is the header. Refuses (DataError) a missing
 * file, a header without a declared column (or with it twice), a label value that is not a declared class
 * name (the message gives the value and its line), malformed CSV (e.g. an unclosed quote), and a file with no
 * usable row. Rows with an empty or non-numeric feature, or an empty label, are skipped and counted.
 */
export async function openCsv(file: string, declaration: CsvDataDeclaration, opts: CsvOptions = {}): Promise<CsvSource> {
  const pp = declaration.preprocessing;
  const st = await fsp.stat(file).catch(() => null);
  if (!st || !st.isFile()) throw new DataError('format', `CSV file ${file} ${st ? 'is not a file' : 'does not exist'}`);
  // A UTF-8 byte-order mark is skipped by starting the stream after it, which keeps byte offsets exact.
  const fh = await fsp.open(file, 'r');
  const bom = new Uint8Array(3);
  const { bytesRead } = await fh.read(bom, 0, 3, 0);
  await fh.close();
  const skip = bytesRead === 3 && bom[0] === 0xef && bom[1] === 0xbb && bom[2] === 0xbf ? 3 : 0;

  const classIndex = new Map(declaration.classNames.map((c, i) => [c, i]));
  const builder = new ReportBuilder('csv', file, declaration.classNames, opts.maxReported);
  const rows = new RowIndex();
  let featureCols: number[] = [];
  let labelCol = -1;
  let header: string[] | null = null;
  let prevEnd = skip;

  const parser = parse({ delimiter: pp.delimiter, info: true, relax_column_count: true, skip_empty_lines: true });
  const input = createReadStream(file, { start: skip });
  const lines = new LineCounter(skip);
  input.on('error', (e) => parser.destroy(e));
  input.pipe(lines).pipe(parser);
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { bytes: number } }>) {
      const { record, info } = item;
      const start = prevEnd;
      const end = info.bytes + skip;
      prevEnd = end;
      const line = lines.lineOf(start, end);
      if (!header) {
        header = record.map((h) => h.trim());
        const col = (name: string): number => {
          const at = header!.indexOf(name);
          if (at >= 0 && header!.indexOf(name, at + 1) >= 0) throw new DataError('format', `CSV header of ${file} has column '${name}' twice`);
          return at;
        };
        const missing = [...pp.featureColumns, pp.labelColumn].filter((c) => col(c) < 0);
        if (missing.length > 0) {
          throw new DataError(
            'format',
            `CSV header of ${file} lacks declared column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')} (header: ${header.join(', ')})`,
          );
        }
        featureCols = pp.featureColumns.map(col);
        labelCol = col(pp.labelColumn);
        continue;
      }
      const where = `${file} line ${line}`;
      const rawLabel = record[labelCol];
      if (rawLabel === undefined || rawLabel.trim() === '') {
        builder.skip(where, 'missing-value', `no value in label column '${pp.labelColumn}'`);
        continue;
      }
      const label = classIndex.get(rawLabel.trim());
      if (label === undefined) {
        throw new DataError(
          'unknown-label',
          `${file} line ${line}: label '${rawLabel.trim()}' in column '${pp.labelColumn}' is not a declared class (declared: ${declaration.classNames.join(', ')})`,
          builder.report,
        );
      }
      let bad: { reason: 'missing-value' | 'non-numeric'; detail: string } | null = null;
      for (let j = 0; j < featureCols.length && !bad; j++) {
        const raw = record[featureCols[j]!];
        const v = cell(raw);
        if (v === 'missing-value') bad = { reason: v, detail: `no value in column '${pp.featureColumns[j]}'` };
        else if (v === 'non-numeric') bad = { reason: v, detail: `column '${pp.featureColumns[j]}' holds '${String(raw).slice(0, 40)}'` };
      }
      if (bad) {
        builder.skip(where, bad.reason, bad.detail);
        continue;
      }
      rows.push(start, end, label, line);
      builder.addUsable(label);
    }
  } catch (e) {
    input.destroy();
    lines.destroy();
    if (e instanceof DataError) throw e;
    const err = e as Error & { code?: string; lines?: number };
    if (err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR') throw new DataError('format', `cannot read CSV file ${file}: ${err.code}`);
    throw new DataError('format', `${file} is not valid CSV${err.lines ? ` (near line ${err.lines})` : ''}: ${err.message}`, builder.report);
  }
  if (!header) throw new DataError('empty', `CSV file ${file} is empty (expected a header row naming the columns)`, builder.report);
  if (rows.n === 0) throw new DataError('empty', `no usable row in ${file}: ${summarizeSkips(builder.report)}`, builder.report);
  return new CsvSource(declaration, file, featureCols, rows, builder);
}
