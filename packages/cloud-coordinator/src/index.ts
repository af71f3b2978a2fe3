export * from './coordinator.js';
export * from './config.js';
export * from './store/index.js';
export { testDataFor } from './serve.js';
export { storedTopology, planText } from './plan-command.js';
export { buildTopology, type CapacitySnapshot } from './planning.js';
export { CoordinatorError, type CoordinatorErrorCode } from './errors.js';
export { CapacityBook, DEFAULT_DEPARTED_REPORTS_KEPT } from './capacity-book.js';
export { DEFAULT_MAX_EDGES, refusalEventText } from './fleet.js';
