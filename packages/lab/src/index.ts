export * from './federation.js';
export * from './process.js';
export * from './netlab/index.js';
export * from './lab-federation.js';
