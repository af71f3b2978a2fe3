export * from './coordinator.js';
export * from './config.js';
export * from './store/index.js';
export { testDataFor } from './serve.js';
