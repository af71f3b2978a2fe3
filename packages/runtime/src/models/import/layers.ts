// A fresh tfjs-layers layer from an imported layer's plain-data config, synchronously (SubModel.create is
// synchronous; tfl.models.modelFromJSON is not), through the class registry tfjs-layers fills at load.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ImportedLayer, JsonObject } from './spec.js';

/** Config keys that tie a layer to its position as a model's first layer; ranges get their own input. */
export const INPUT_SHAPE_KEYS = ['batchInputShape', 'inputShape', 'batchSize'];

export function layerFromConfig(className: string, config: JsonObject): tfl.layers.Layer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`tfjs-layers has no layer class '${className}'`);
  const [cls, fromConfig] = entry;
  // fromConfig may keep references to nested objects: give it its own copy
  const layer = fromConfig(cls, structuredClone(config) as tf.serialization.ConfigDict) as unknown;
  if (!(layer instanceof tfl.layers.Layer)) throw new Error(`'${className}' is not a tfjs-layers layer`);
  return layer;
}

/** A new layer for `l`; its weights are created as zeros, without running its initialisers (the caller assigns them). */
export function instantiateLayer(l: ImportedLayer, overrides: JsonObject = {}): tfl.layers.Layer {
  const layer = layerFromConfig(l.className, { ...l.config, ...overrides });
  layer.setFastWeightInitDuringBuild(true);
  return layer;
}

/** The config of a loaded layer as ImportedLayer keeps it (plain JSON, no input-shape keys). */
export function plainConfig(layer: tfl.layers.Layer): JsonObject {
  const config = JSON.parse(JSON.stringify(layer.getConfig())) as JsonObject;
  for (const k of INPUT_SHAPE_KEYS) delete config[k];
  return config;
}

/** The weight's name within its layer: tfjs names layer variables `${layer}/${param}`. */
export function paramName(layerName: string, v: tfl.LayerVariable): string {
  const prefix = `${layerName}/`;
  return v.originalName.startsWith(prefix) ? v.originalName.slice(prefix.length) : v.originalName;
}
