export {
  type Activation,
  type LayerSpec,
  type ModelInfo,
  type ModelSpec,
  type UnitSpec,
  type WeightSpec,
  listModels,
  modelInfo,
  modelSpec,
  rangeWeightSpecs,
  unitOutputShape,
} from './zoo.js';
export { SubModel } from './submodel.js';
export { exportCheckpoint } from './checkpoint.js';
