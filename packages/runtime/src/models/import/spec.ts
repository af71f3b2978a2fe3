// The plain-data form of an imported tfjs Layers model, as zoo.ts's ModelSpec carries it. Types only.

/** A JSON object (tfjs layer configs). */
export interface JsonObject {
  [key: string]: unknown;
}

/** One weight of an imported layer, in the layer's own weight order (layer.weights in tfjs-layers). */
export interface ImportedWeight {
  /** Name within the layer: the tfjs variable is `${layer}/${param}` ('kernel', 'bias', 'gamma', 'moving_mean' ...). */
  param: string;
  shape: number[];
  /** false for BatchNormalization moving statistics and for weights of layers saved with trainable: false. */
  trainable: boolean;
}

/** One layer of an imported model. */
export interface ImportedLayer {
  /** tfjs-layers class name: 'Conv2D', 'Dense', 'MaxPooling2D', 'Dropout', ... */
  className: string;
  /** Layer name, unique within the model (config.name). */
  name: string;
  /**
   * The layer's tfjs-layers config (Layer.getConfig(): camelCase keys, nested initialisers as
   * {className, config}), without the input-shape keys (batchInputShape, inputShape, batchSize).
   */
  config: JsonObject;
  /** Per-sample input and output shapes. */
  inputShape: number[];
  outputShape: number[];
  weights: ImportedWeight[];
  /** Forward FLOPs per sample (same conventions as the zoo: multiply-add = 2; see import/cost.ts). */
  flops: number;
}

/** A unit of an imported model: one layer and the shape-preserving layers folded into it (see import/units.ts). */
export interface ImportedLayerSpec {
  kind: 'imported';
  layers: ImportedLayer[];
  /** The unit's weights as read from the imported file, in the unit's weight order. Read-only. */
  initial: Float32Array[];
}

/** How an imported model relates to the file it came from (what export needs to write it back). */
export interface ImportSource {
  /** Where it was read from (path or URL), for messages. */
  from: string;
  /** The original model's class: 'Sequential', or 'Model' for a functional (linear-chain) model. */
  topology: 'Sequential' | 'Model';
  /** The original model's name. */
  modelName: string;
  /** The original input layer's name. */
  inputName: string;
  /**
   * The final softmax stripped for training (the project trains logits with softmax cross-entropy, which is
   * the same objective as cross-entropy on softmax probabilities); export puts it back:
   * - 'activation': the last layer `layer` had activation 'softmax' (trained with 'linear');
   * - 'layer': a trailing Softmax or Activation('softmax') layer, kept here.
   */
  softmax: null | { kind: 'activation'; layer: string } | { kind: 'layer'; layer: ImportedLayer };
  /** model.json's generatedBy / convertedBy, when present. */
  generatedBy: string | null;
  convertedBy: string | null;
  /**
   * sha256 (hex) of the imported topology and initial weights: every process of a run can check it loaded
   * the same model.
   */
  sha256: string;
}
