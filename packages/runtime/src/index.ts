export * as tf from '@tensorflow/tfjs-core';
export * from './backend/index.js';
