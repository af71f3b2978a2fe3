// What a unit of an imported model is, and the logits rule for its end. Plain data, no tfjs.
//
// A unit is one layer of the model together with the shape-preserving layers that follow it and only
// transform its output element by element or normalise it (activations, dropout/noise, batch/layer
// normalisation): the zoo's units are one layer each with the activation inside (conv+relu, pool, flatten,
// dense+relu), so Conv2D -> BatchNormalization -> ReLU is one unit like the zoo's conv unit, and cutting
// between them would only send the same-sized tensor at an extra cut point. Every other layer (Dense, convs,
// pooling, Flatten, Reshape, padding, ...) starts a unit; a folded layer with nothing before it (e.g. a
// Dropout right after the input) starts the first unit.
import type { ImportedLayer, ImportSource } from './spec.js';

/** Layers folded into the unit of the layer before them. */
export const FOLDED_LAYERS = new Set([
  'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Softmax',
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
  'BatchNormalization', 'LayerNormalization',
]);

/** Layers that keep class scores class scores (skipped when looking for the layer that makes the logits). */
const PASS_THROUGH = new Set([
  'Flatten', 'Reshape', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout',
  'AlphaDropout', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'AveragePooling1D', 'AveragePooling2D',
]);

const ACTIVATION_LAYERS = new Set(['Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Softmax']);

/** Groups a chain of layers into units (see above). */
export function groupUnits(layers: ImportedLayer[]): ImportedLayer[][] {
  const units: ImportedLayer[][] = [];
  for (const l of layers) {
    const last = units.at(-1);
    if (last && FOLDED_LAYERS.has(l.className)) last.push(l);
    else units.push([l]);
  }
  return units;
}

const activationOf = (l: ImportedLayer): string | null => (typeof l.config['activation'] === 'string' ? (l.config['activation'] as string) : null);

function isSoftmaxLayer(l: ImportedLayer): boolean {
  if (l.className === 'Activation') return activationOf(l) === 'softmax';
  if (l.className !== 'Softmax') return false;
  const axis = l.config['axis'];
  return axis === undefined || axis === -1 || axis === l.outputShape.length;
}

/**
 * The chain that trains on logits: a trailing softmax (a Softmax / Activation('softmax') layer, or activation
 * 'softmax' on the layer that makes the scores) is taken off and reported for export to put back; anything
 * else non-linear after the last weights is refused, as is an output that is not [C] with C >= 2.
 */
export function logitsChain(layers: ImportedLayer[], where: string): { layers: ImportedLayer[]; softmax: ImportSource['softmax'] } {
  const out = layers.at(-1)!.outputShape;
  if (out.length !== 1 || out[0]! < 2) {
    throw new Error(
      `${where}: the model outputs [${out.join(',')}] per sample; it must output [C] class scores (logits or softmax probabilities) with C >= 2` +
        (out.length === 1 ? ' (for two classes use 2 softmax outputs rather than 1 sigmoid output)' : ''),
    );
  }
  let chain = layers.slice();
  let softmax: ImportSource['softmax'] = null;
  if (isSoftmaxLayer(chain.at(-1)!)) {
    softmax = { kind: 'layer', layer: chain.at(-1)! };
    chain = chain.slice(0, -1);
    if (chain.length === 0) throw new Error(`${where}: the model is only a softmax`);
  }
  let i = chain.length - 1;
  while (i > 0 && PASS_THROUGH.has(chain[i]!.className)) i--;
  const head = chain[i]!;
  const act = activationOf(head);
  const refuse = (what: string): never => {
    throw new Error(
      `${where}: layer '${head.name}' (${head.className}) ${what}; the model must end in class logits (a linear last layer), optionally followed by a softmax`,
    );
  };
  if (ACTIVATION_LAYERS.has(head.className)) {
    refuse(head.className === 'Activation' ? `applies '${act}' to the class scores` : `applies ${head.className} to the class scores`);
  }
  if (act === 'softmax') {
    if (softmax) refuse('applies a softmax and a softmax layer follows it');
    chain[i] = { ...head, config: { ...head.config, activation: 'linear' }, flops: head.flops - 3 * head.outputShape.reduce((a, b) => a * b, 1) };
    softmax = { kind: 'activation', layer: head.name };
  } else if (act !== null && act !== 'linear') {
    refuse(`has activation '${act}'`);
  }
  return { layers: chain, softmax };
}
