export {
  type Activation,
  type LayerSpec,
  type ModelInfo,
  type ModelSpec,
  type UnitSpec,
  type WeightSpec,
  checkSpec,
  isZooModel,
  listModels,
  modelInfo,
  modelSpec,
  rangeWeightSpecs,
  registerModel,
  unitOutputShape,
} from './zoo.js';
export { unregisterModel, registeredNames, MODEL_NAME_PATTERN } from './registry.js';
export { SubModel } from './submodel.js';
export { exportCheckpoint, type Checkpoint } from './checkpoint.js';
export * from './import/index.js';
