export { type Dataset, sampleSize, subset, validateDataset } from './dataset.js';
export { seededRandom, mixSeed } from './random.js';
export { loadMnist, MNIST_SPLIT_SEED, MNIST_TEST_SIZE } from './mnist.js';
export { syntheticDataset, SYNTHETIC_PROTOTYPE_SEED } from './synthetic.js';
export { partition, type PartitionOptions } from './partition.js';
export { BatchIterator, concatBatches, type Batch } from './batch.js';
export * from './local/index.js';
