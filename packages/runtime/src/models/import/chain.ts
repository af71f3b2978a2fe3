// The layers of a loaded tfjs Layers model as one chain from its input to its output, or a refusal naming the
// layer that makes it something else (a merge, a fan-out, a shared or nested layer, several inputs/outputs).
import type * as tfl from '@tensorflow/tfjs-layers';

type Layer = tfl.layers.Layer;

export interface LayerChain {
  /** The model's InputLayer. */
  input: Layer;
  /** Every other layer, from the input to the output, each feeding the next. */
  layers: Layer[];
}

const NESTED = new Set(['Sequential', 'Model', 'Functional', 'LayersModel']);

const label = (l: Layer) => `'${l.name}' (${l.getClassName()})`;

/** The model's layers as a linear chain; throws a readable refusal otherwise. `where` names the model. */
export function linearChain(model: tfl.LayersModel, where: string): LayerChain {
  const refuse = (msg: string): never => {
    throw new Error(`${where}: ${msg}; only sequential models and functional models whose layers form one chain can be cut into units`);
  };
  if (model.inputs.length !== 1) refuse(`the model has ${model.inputs.length} inputs`);
  if (model.outputs.length !== 1) refuse(`the model has ${model.outputs.length} outputs`);
  const all = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  // Merges first, so a residual connection is refused naming the Add/Concatenate that closes it.
  for (const l of all) {
    if (NESTED.has(l.getClassName())) {
      refuse(`layer ${label(l)} is a nested model (save it with its layers inlined into one model)`);
    }
    for (const node of l.inboundNodes) {
      if (node.inboundLayers.length > 1) {
        refuse(`layer ${label(l)} joins ${node.inboundLayers.length} branches (${node.inboundLayers.map((x) => `'${x.name}'`).join(', ')}), e.g. a residual or concatenation`);
      }
    }
    if (l.inboundNodes.length > 1) refuse(`layer ${label(l)} is applied ${l.inboundNodes.length} times (a shared layer)`);
  }
  const input = model.inputs[0]!.sourceLayer;
  const output = model.outputs[0]!.sourceLayer;
  const layers: Layer[] = [];
  let at = input;
  for (;;) {
    const next = at.outboundNodes.map((n) => n.outboundLayer);
    if (at === output) {
      if (next.length) refuse(`the output layer ${label(at)} also feeds ${next.map((x) => `'${x.name}'`).join(', ')}`);
      break;
    }
    if (next.length !== 1) {
      if (next.length === 0) refuse(`layer ${label(at)} feeds no layer but is not the output`);
      refuse(`layer ${label(at)} feeds ${next.length} layers (${next.map((x) => `'${x.name}'`).join(', ')})`);
    }
    at = next[0]!;
    if (at.inboundNodes[0]!.outputTensors.length !== 1) refuse(`layer ${label(at)} has ${at.inboundNodes[0]!.outputTensors.length} outputs`);
    layers.push(at);
  }
  if (layers.length === 0) refuse('the model has no layers');
  const inChain = new Set(layers);
  const stray = all.filter((l) => !inChain.has(l));
  if (stray.length) refuse(`layers ${stray.map(label).join(', ')} are not on the path from the input to the output`);
  return { input, layers };
}
