export * from './federation.js';
export * from './process.js';
