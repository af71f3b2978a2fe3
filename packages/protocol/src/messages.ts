// Message codec: event name + object <-> protobuf bytes.
//
// Decoding uses protobufjs reflection (Root.fromJSON of the descriptor
// generated from proto/hsfl.proto). Encoding uses protobufjs for all fields
// except Tensor-typed ones, which are written here so that every tensor's
// data starts at a 4-byte aligned offset of the payload (padding with the
// Tensor.pad field when needed): the receiver can then view the values as
// a Float32Array without copying. Field order on the wire is free in
// protobuf, so any conforming decoder reads these payloads.
import protobuf from 'protobufjs/light.js';
import { descriptor, REQUIRED_FIELDS, type MessageTypeName, type TensorInit } from './generated/hsfl.js';
import { ProtocolError } from './errors.js';
import { EVENT_TYPES, isEventName, type EventName, type MessageInitOf, type MessageOf } from './events.js';
import { tensorInfo, MAX_TENSOR_ELEMENTS } from './tensor.js';
import { MAX_MESSAGE_BYTES } from './limits.js';

const root = protobuf.Root.fromJSON(descriptor as unknown as protobuf.INamespace);
root.resolveAll();

/** The protobufjs reflection type of a message, for advanced use. */
export function messageType(name: MessageTypeName): protobuf.Type {
  return root.lookupType(`hsfl.${name}`);
}

const TensorType = messageType('Tensor');

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, defaults: true, arrays: true };

interface FieldCheck {
  name: string;
  repeated: boolean;
  kind: 'enum' | 'u64' | 'message' | 'tensor';
  values?: ReadonlySet<number>;
  type?: protobuf.Type;
}

interface TypeInfo {
  type: protobuf.Type;
  checks: FieldCheck[];
  required: readonly string[];
  tensorFields: { name: string; id: number; repeated: boolean }[];
}

const infos = new Map<protobuf.Type, TypeInfo>();

function info(type: protobuf.Type): TypeInfo {
  let ti = infos.get(type);
  if (ti) return ti;
  const checks: FieldCheck[] = [];
  const tensorFields: TypeInfo['tensorFields'] = [];
  for (const f of type.fieldsArray) {
    const rt = f.resolvedType;
    if (rt === TensorType) {
      checks.push({ name: f.name, repeated: f.repeated, kind: 'tensor' });
      tensorFields.push({ name: f.name, id: f.id, repeated: f.repeated });
    } else if (rt instanceof protobuf.Type) {
      checks.push({ name: f.name, repeated: f.repeated, kind: 'message', type: rt });
    } else if (rt instanceof protobuf.Enum) {
      checks.push({ name: f.name, repeated: f.repeated, kind: 'enum', values: new Set(Object.values(rt.values)) });
    } else if (f.long) {
      checks.push({ name: f.name, repeated: f.repeated, kind: 'u64' });
    }
  }
  ti = { type, checks, required: REQUIRED_FIELDS[type.name] ?? [], tensorFields };
  infos.set(type, ti);
  return ti;
}

function typeForEvent(event: string): protobuf.Type {
  if (!isEventName(event)) throw new ProtocolError('unknown_event', `no message type for event ${JSON.stringify(event)}`);
  return messageType(EVENT_TYPES[event]);
}

// ---------------------------------------------------------------- decode

export interface DecodeOptions {
  /** Largest payload accepted, in bytes ('too_large'). Default MAX_MESSAGE_BYTES. */
  maxBytes?: number;
  /** Largest tensor accepted, in elements ('limit'). Default MAX_TENSOR_ELEMENTS. */
  maxElements?: number;
}

/** The bytes of a socket.io binary payload (Buffer, Uint8Array, ArrayBuffer, any view); 'malformed' otherwise. */
export function payloadBytes(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (payload instanceof ArrayBuffer) return new Uint8Array(payload);
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  const what = payload === null ? 'null' : Array.isArray(payload) ? 'array' : typeof payload;
  throw new ProtocolError('malformed', `expected a binary payload, got ${what}`);
}

/**
 * Decodes and structurally validates one message: binary payload, size
 * limit, protobuf decoding, required sub-messages present, enum values
 * known, uint64 values exact, every tensor consistent (dtype, codec,
 * shape, byte length). Tensor values are NOT checked here: use
 * expectTensor/checkLabels/checkWeights with the plan's shapes.
 * Throws ProtocolError: unknown_event, malformed, too_large, bad_tensor,
 * bad_shape, limit.
 */
export function decodeMessage<E extends EventName>(event: E, payload: unknown, opts: DecodeOptions = {}): MessageOf<E> {
  const type = typeForEvent(event);
  const bytes = payloadBytes(payload);
  const maxBytes = opts.maxBytes ?? MAX_MESSAGE_BYTES;
  if (bytes.byteLength > maxBytes) {
    throw new ProtocolError('too_large', `${event}: ${bytes.byteLength} bytes > limit ${maxBytes}`);
  }
  let obj: Record<string, unknown>;
  try {
    obj = type.toObject(type.decode(bytes), TO_OBJECT);
  } catch (err) {
    throw new ProtocolError('malformed', `${event}: undecodable ${type.name} (${(err as Error)?.message ?? String(err)})`, { cause: err });
  }
  validateObject(info(type), obj, type.name, opts.maxElements ?? MAX_TENSOR_ELEMENTS);
  return obj as unknown as MessageOf<E>;
}

function validateObject(ti: TypeInfo, obj: Record<string, unknown>, path: string, maxElements: number): void {
  for (const name of ti.required) {
    if (obj[name] == null) throw new ProtocolError('malformed', `${path}.${name} is missing`);
  }
  for (const c of ti.checks) {
    const v = obj[c.name];
    if (c.repeated) {
      const arr = v as unknown[];
      for (let i = 0; i < arr.length; i++) checkValue(c, arr[i], `${path}.${c.name}[${i}]`, maxElements);
    } else {
      checkValue(c, v, `${path}.${c.name}`, maxElements);
    }
  }
}

function checkValue(c: FieldCheck, v: unknown, path: string, maxElements: number): void {
  switch (c.kind) {
    case 'enum':
      if (!c.values!.has(v as number)) throw new ProtocolError('malformed', `${path}: unknown enum value ${String(v)}`);
      return;
    case 'u64':
      if (!Number.isSafeInteger(v)) throw new ProtocolError('malformed', `${path}: ${String(v)} is not an exact integer`);
      return;
    case 'message':
      if (v != null) validateObject(info(c.type!), v as Record<string, unknown>, path, maxElements);
      return;
    case 'tensor':
      if (v != null) {
        try {
          tensorInfo(v as TensorInit, maxElements);
        } catch (err) {
          if (err instanceof ProtocolError) throw new ProtocolError(err.code, `${path}: ${err.detail}`);
          throw err;
        }
      }
      return;
  }
}

// ---------------------------------------------------------------- encode

/**
 * Encodes one message for `event`. Returns a Uint8Array (a Buffer with its
 * own ArrayBuffer when the message holds tensors) to pass to socket.emit.
 * Throws ProtocolError ('malformed' for a missing required field or a
 * field of the wrong type, 'bad_tensor'/'bad_shape' for an inconsistent
 * tensor, 'unknown_event').
 */
export function encodeMessage<E extends EventName>(event: E, msg: MessageInitOf<E>): Uint8Array {
  const type = typeForEvent(event);
  const ti = info(type);
  const m = msg as unknown as Record<string, unknown>;
  if (m == null || typeof m !== 'object') throw new ProtocolError('malformed', `encode ${event}: message is not an object`);
  for (const name of ti.required) {
    if (m[name] == null) throw new ProtocolError('malformed', `encode ${event}: ${type.name}.${name} is missing`);
  }
  let rest: Record<string, unknown> = m;
  if (ti.tensorFields.length) {
    rest = { ...m };
    for (const f of ti.tensorFields) delete rest[f.name];
  }
  const problem = type.verify(rest);
  if (problem) throw new ProtocolError('malformed', `encode ${event}: ${problem}`);
  const head = type.encode(rest).finish();
  if (!ti.tensorFields.length) return head;

  // Lay out the tensors after the other fields, each with its data aligned.
  const plans: TensorPlan[] = [];
  let pos = head.length;
  for (const f of ti.tensorFields) {
    const v = m[f.name];
    if (v == null) continue;
    const list = f.repeated ? (v as TensorInit[]) : [v as TensorInit];
    if (f.repeated && !Array.isArray(v)) throw new ProtocolError('malformed', `encode ${event}: ${f.name} is not an array`);
    for (const t of list) {
      const p = planTensor(t, (f.id << 3) | 2, pos);
      plans.push(p);
      pos = p.end;
    }
  }
  const out = Buffer.allocUnsafeSlow(pos);
  out.set(head, 0);
  for (const p of plans) writeTensor(out, p);
  return out;
}

interface TensorPlan {
  start: number;
  end: number;
  key: number;
  bodyLen: number;
  dtype: number;
  shape: readonly number[];
  shapeBytes: number;
  codec: number;
  scale: number;
  pad: number;
  data: Uint8Array;
}

const ALIGN = 4;
const PAD_CHOICES = [0, 2, 3, 4, 5, 6, 7, 8];
const PAD_KEY = (15 << 3) | 2;
const DATA_KEY = (3 << 3) | 2;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

function planTensor(t: TensorInit, key: number, start: number): TensorPlan {
  const ti = tensorInfo(t); // dtype, codec, shape and byte length consistent
  const dtype = t.dtype ?? 0;
  const codec = ti.codec;
  const shape = ti.shape;
  const scale = Math.fround(ti.scale);
  const data = ti.data;
  let shapeBytes = 0;
  for (const d of shape) {
    if (d > 0xffffffff) throw new ProtocolError('bad_shape', `dimension ${d} does not fit uint32`);
    shapeBytes += varintSize(d);
  }
  const prefix =
    (dtype ? 1 + varintSize(dtype) : 0) +
    (shape.length ? 1 + varintSize(shapeBytes) + shapeBytes : 0) +
    (codec ? 1 + varintSize(codec) : 0) +
    (scale !== 0 ? 5 : 0);
  const len = data.byteLength;
  const dataPart = len ? 1 + varintSize(len) + len : 0;
  const keySize = varintSize(key);
  let pad = 0;
  if (len) {
    for (const p of PAD_CHOICES) {
      const bodyLen = prefix + p + dataPart;
      const dataAt = start + keySize + varintSize(bodyLen) + prefix + p + 1 + varintSize(len);
      if (dataAt % ALIGN === 0) {
        pad = p;
        break;
      }
    }
  }
  const bodyLen = prefix + pad + dataPart;
  return {
    start, end: start + keySize + varintSize(bodyLen) + bodyLen, key, bodyLen,
    dtype, shape, shapeBytes, codec, scale, pad, data,
  };
}

function writeTensor(out: Buffer, p: TensorPlan): void {
  let pos = writeVarint(out, p.start, p.key);
  pos = writeVarint(out, pos, p.bodyLen);
  if (p.dtype) {
    out[pos++] = (1 << 3) | 0;
    pos = writeVarint(out, pos, p.dtype);
  }
  if (p.shape.length) {
    out[pos++] = (2 << 3) | 2;
    pos = writeVarint(out, pos, p.shapeBytes);
    for (const d of p.shape) pos = writeVarint(out, pos, d);
  }
  if (p.codec) {
    out[pos++] = (4 << 3) | 0;
    pos = writeVarint(out, pos, p.codec);
  }
  if (p.scale !== 0) {
    out[pos++] = (5 << 3) | 5;
    out.writeFloatLE(p.scale, pos);
    pos += 4;
  }
  if (p.pad) {
    out[pos++] = PAD_KEY;
    out[pos++] = p.pad - 2;
    out.fill(0, pos, pos + p.pad - 2);
    pos += p.pad - 2;
  }
  if (p.data.byteLength) {
    out[pos++] = DATA_KEY;
    pos = writeVarint(out, pos, p.data.byteLength);
    out.set(p.data, pos);
    pos += p.data.byteLength;
  }
  if (pos !== p.end) throw new Error(`internal: tensor layout mismatch (${pos} != ${p.end})`);
}
