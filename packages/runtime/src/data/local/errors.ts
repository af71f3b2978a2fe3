// One error type for everything the local-data loaders refuse, so a device can tell the user (and the
// coordinator) *what* is wrong with its data without parsing messages: `code` is stable, `message` is for
// people. Bad individual samples are never errors (they are skipped and counted in a LoadReport); a
// DataError means the data set as a whole cannot be used as declared.

import type { LoadReport } from './report.js';

export type DataErrorCode =
  /** The run's data declaration itself is malformed or inconsistent. */
  | 'declaration'
  /** A class folder (images) that is not one of the declared classNames. */
  | 'unknown-class'
  /** A label value (CSV) or label index (npy) that does not map to a declared class. */
  | 'unknown-label'
  /** Stored arrays do not have the declared per-sample shape. */
  | 'shape-mismatch'
  /** The file or folder is missing, or is not of the expected format as a whole (CSV header, npy header). */
  | 'format'
  /** Nothing usable remained after skipping bad samples. */
  | 'empty';

export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    readonly code: DataErrorCode,
    message: string,
    /** What the loader saw before refusing (counts, skipped samples), when it got that far. */
    readonly report?: LoadReport,
  ) {
    super(message);
  }
}
