// Whether a device's data can train a run's model: the same sample shape
// and no more classes than the model's outputs. Decided when the device
// joins (and when a new run begins), so that a mismatch is one clear
// refusal instead of a shape error in every round (issue 10).
import { modelInfo } from '@hsfl/runtime';

const MAX_RANK = 8;

/** The problem with a device's declared data for `model`, or undefined when it fits (or was not declared). */
export function dataFitProblem(data: { sampleShape: readonly number[]; numClasses: number }, model: string): string | undefined {
  const shape = data.sampleShape;
  if (shape.length === 0) return undefined;
  if (shape.length > MAX_RANK || shape.some((d) => !Number.isInteger(d) || d < 1 || d > 65536)) return `the device declares an impossible sample shape [${shape.slice(0, MAX_RANK).join(', ')}]`;
  const info = modelInfo(model);
  const want = info.inputShape;
  if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
    return `the device's data is ${shape.join('x')} per sample but the run's model ${model} expects ${want.join('x')}`;
  }
  if (data.numClasses > info.numClasses) {
    return `the device's labels index ${data.numClasses} classes but the run's model ${model} has ${info.numClasses} outputs`;
  }
  return undefined;
}
