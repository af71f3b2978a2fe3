// What a loader tells its user about the data it found: how many usable samples per class, and what it
// skipped and why. Skipping (rather than throwing) is the rule for individual bad samples, so a device with
// one corrupt JPEG among 10,000 still trains; the report makes the skip visible instead of silent.

/** One skipped sample: where it is (file path, or "file.csv line 12", or "x.npy row 7") and why. */
export interface SkippedSample {
  where: string;
  reason: SkipReason;
  detail: string;
}

export type SkipReason =
  /** File extension is not one the image loader reads (.png, .jpg, .jpeg). */
  | 'unsupported-file'
  /** Content is not a PNG or JPEG although the extension says so. */
  | 'not-an-image'
  /** The file ends before its format's end marker (PNG IEND, JPEG EOI). */
  | 'truncated'
  /** Larger than the loader's pixel or byte limits (protects the device's memory). */
  | 'too-large'
  /** The decoder rejected the content (bad CRC, bad Huffman data, ...). */
  | 'decode-failed'
  /** The file could not be read (permissions, vanished since listing, I/O error). */
  | 'unreadable'
  /** An image file directly in the data folder, outside any class folder. */
  | 'outside-class-folder'
  /** CSV: a feature value or the label is empty, or the row has too few fields. */
  | 'missing-value'
  /** CSV: a feature value is not a finite number. npy: a non-finite value in a float row. */
  | 'non-numeric';

export interface LoadReport {
  kind: 'image' | 'csv' | 'npy';
  /** The folder or file(s) the data came from. */
  location: string;
  /** Usable samples (listed and not, or not yet, found bad). */
  usable: number;
  /** Usable samples per declared class name (every declared class appears, possibly with 0). */
  perClass: Record<string, number>;
  /** Total skipped samples (all of them, not only those listed in `skipped`). */
  skippedCount: number;
  skippedByReason: Partial<Record<SkipReason, number>>;
  /** The first `maxReported` skipped samples, in the order they were found. */
  skipped: SkippedSample[];
  /** Folders that were not declared classes and were ignored because the caller allowed it. */
  ignoredFolders: string[];
}

export const DEFAULT_MAX_REPORTED = 50;

/** Builds and updates a LoadReport; keeps the per-sample list capped so a million bad rows cost nothing. */
export class ReportBuilder {
  readonly report: LoadReport;

  constructor(
    kind: LoadReport['kind'],
    location: string,
    private readonly classNames: readonly string[],
    private readonly maxReported = DEFAULT_MAX_REPORTED,
  ) {
    const perClass: Record<string, number> = {};
    for (const c of classNames) perClass[c] = 0;
    this.report = { kind, location, usable: 0, perClass, skippedCount: 0, skippedByReason: {}, skipped: [], ignoredFolders: [] };
  }

  addUsable(label: number): void {
    this.report.usable++;
    this.report.perClass[this.classNames[label]!]!++;
  }

  skip(where: string, reason: SkipReason, detail: string): void {
    const r = this.report;
    r.skippedCount++;
    r.skippedByReason[reason] = (r.skippedByReason[reason] ?? 0) + 1;
    if (r.skipped.length < this.maxReported) r.skipped.push({ where, reason, detail });
  }

  /** A sample that was listed as usable turned out bad when it was read for a batch. */
  demote(label: number, where: string, reason: SkipReason, detail: string): void {
    this.report.usable--;
    this.report.perClass[this.classNames[label]!]!--;
    this.skip(where, reason, detail);
  }
}

/** A one-line summary for logs and error messages, e.g. "12 skipped (10 truncated, 2 not-an-image)". */
export function summarizeSkips(r: LoadReport): string {
  if (r.skippedCount === 0) return 'none skipped';
  const parts = Object.entries(r.skippedByReason).map(([k, v]) => `${v} ${k}`);
  return `${r.skippedCount} skipped (${parts.join(', ')})`;
}
