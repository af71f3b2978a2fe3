// Local data on devices (issue 10): declarations, loaders for image folders / CSV / .npy, streaming
// batches from disk, and makers of test data in those layouts.
export {
  validateDataDeclaration,
  declaredSampleSize,
  type DataDeclaration,
  type DataKind,
  type ImageDataDeclaration,
  type CsvDataDeclaration,
  type NpyDataDeclaration,
  type ImagePreprocessing,
  type ImageNormalization,
  type CsvPreprocessing,
  type CsvScaling,
  type NpyPreprocessing,
} from './declaration.js';
export { DataError, type DataErrorCode } from './errors.js';
export { summarizeSkips, type LoadReport, type SkippedSample, type SkipReason } from './report.js';
export type { SampleSource, ReadFailure } from './source.js';
export { openImageFolder, ImageFolderSource, type ImageFolderOptions } from './image-folder.js';
export { decodeImage, sniffImage, type RasterRGBA } from './image-decode.js';
export { rasterToSample } from './image-transform.js';
export { openCsv, CsvSource, type CsvOptions } from './csv.js';
export { openNpy, NpySource, type NpyOptions } from './npy.js';
export { encodeNpy, parseNpyHeader, npyPreamble, type NpyDtype, type NpyHeader } from './npy-format.js';
export { heldOutSplit, countClasses, type HeldOutOptions } from './split.js';
export {
  StreamingDataset,
  StreamingBatchIterator,
  type StreamStats,
  type BatchesOptions,
  type PassOptions,
} from './streaming.js';
export { openLocalDataset, type DataLocation, type OpenLocalDataOptions } from './open.js';
export {
  writeImageFolders,
  writeMnistImageFolders,
  writeNpyDataset,
  writeTabularCsv,
  encodeImage,
  mnistImageDeclaration,
  npyDeclaration,
  toByte,
  MNIST_CLASS_NAMES,
  type WrittenImage,
  type TabularCsv,
} from './testdata.js';
