export * as tf from '@tensorflow/tfjs-core';
export * from './backend/index.js';
export * from './models/index.js';
export { tierWeightShapes, modelSizes } from './models/sizes.js';
export * from './train/index.js';
export * from './data/index.js';
export * from './profile/index.js';
export { measureCompute, type ComputeCapacity } from './profile/node.js';
