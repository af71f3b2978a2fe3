// Models registered under a name next to the zoo (imported tfjs Layers models). modelSpec() and so
// modelInfo(), SubModel.create(), tierWeightShapes(), modelSizes(), modelProfile(), exportCheckpoint() ...
// find them like zoo models. Process-wide: every process that trains or checks a run's messages registers
// the same model under the same name.
import type { ModelSpec } from './zoo.js';

const REGISTRY = new Map<string, ModelSpec>();

/** Names accepted by registerModel: they travel in plans, URLs and file names. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function registeredModel(name: string): ModelSpec | undefined {
  return REGISTRY.get(name);
}

export function registeredNames(): string[] {
  return [...REGISTRY.keys()];
}

/** Removes a registered model; true if it was there. SubModels already built from it keep working. */
export function unregisterModel(name: string): boolean {
  return REGISTRY.delete(name);
}

/**
 * The registration itself, without the zoo-name check (zoo.ts's registerModel adds it; this module cannot
 * import zoo.ts at run time without a cycle).
 */
export function putModel(name: string, spec: ModelSpec, replace: boolean): void {
  if (typeof name !== 'string' || !MODEL_NAME_PATTERN.test(name)) {
    throw new Error(`model name '${String(name)}' is not valid (1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit)`);
  }
  if (REGISTRY.has(name) && !replace) {
    throw new Error(`a model named '${name}' is already registered (pass { replace: true } to replace it)`);
  }
  REGISTRY.set(name, spec.name === name ? spec : { ...spec, name });
}
