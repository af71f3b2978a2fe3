// Bringing your own model: import a tfjs Layers model, train it like a zoo model, export it again.
export type { ImportedLayer, ImportedLayerSpec, ImportedWeight, ImportSource, JsonObject } from './spec.js';
export { importLayersModel, importModel, loadModelArtifacts, modelSpecFromLayersModel, fingerprint, type ImportOptions, type ModelSource } from './import.js';
export { fileLoadHandler, fileSaveHandler, loadModelFiles, writeCheckpoint, type LoadLimits, type SaveOptions } from './file-io.js';
export { httpLoadHandler, loadModelHttp, isHttpUrl, type HttpLoadOptions } from './http-io.js';
export { exportImportedModel, type ExportOptions } from './export.js';
export { linearChain, type LayerChain } from './chain.js';
export { FOLDED_LAYERS, groupUnits } from './units.js';
export { parseModelJson, DEFAULT_MAX_WEIGHT_BYTES } from './manifest.js';
