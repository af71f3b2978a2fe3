export { fedAvg, assembleWeights, sliceWeights } from './fedavg.js';
export { evaluate, trainCentralized, type CentralizedOptions } from './evaluate.js';
