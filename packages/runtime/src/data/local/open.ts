// The one call a device makes: its run's declaration plus where its data is -> a StreamingDataset.
// Validation of the declaration happens here too, so a bad declaration is refused before any file is read.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { openCsv, type CsvOptions } from './csv.js';
import { validateDataDeclaration } from './declaration.js';
import { DataError } from './errors.js';
import { openImageFolder, type ImageFolderOptions } from './image-folder.js';
import { openNpy, type NpyOptions } from './npy.js';
import type { SampleSource } from './source.js';
import { StreamingDataset } from './streaming.js';

/** Where a device's data is: a class-folder root (image), a .csv file (csv), or for npy either a folder
 *  holding x.npy and y.npy or the two paths. */
export type DataLocation = string | { x: string; y: string };

export type OpenLocalDataOptions = Omit<ImageFolderOptions, 'verify'> & CsvOptions & Omit<NpyOptions, 'verify'> & {
  /** image: 'header' | 'decode'; npy: 'header' | 'full' (CSV is always fully checked). */
  verify?: 'header' | 'decode' | 'full';
};

/**
 * Validates `declaration` (see validateDataDeclaration) and opens the device's data at `location` as
 * declared. Throws DataError for anything that makes the data unusable as a whole; bad individual samples
 * are skipped and listed in `dataset.report`.
 */
export async function openLocalDataset(declaration: unknown, location: DataLocation, opts: OpenLocalDataOptions = {}): Promise<StreamingDataset> {
  const decl = validateDataDeclaration(declaration);
  let source: SampleSource;
  if (decl.kind === 'image') {
    if (typeof location !== 'string') throw new DataError('format', 'image data location must be a folder path');
    source = await openImageFolder(location, decl, { ...opts, verify: opts.verify === 'header' || opts.verify === undefined ? 'header' : 'decode' });
  } else if (decl.kind === 'csv') {
    if (typeof location !== 'string') throw new DataError('format', 'CSV data location must be a file path');
    source = await openCsv(location, decl, opts);
  } else {
    let loc = location;
    if (typeof loc === 'string') {
      const st = await fsp.stat(loc).catch(() => null);
      if (!st?.isDirectory()) throw new DataError('format', `npy data location ${loc} must be a folder holding x.npy and y.npy (or give both paths)`);
      loc = { x: path.join(loc, 'x.npy'), y: path.join(loc, 'y.npy') };
    }
    source = await openNpy(loc.x, loc.y, decl, { ...opts, verify: opts.verify === 'header' || opts.verify === undefined ? 'header' : 'full' });
  }
  return new StreamingDataset(source);
}
