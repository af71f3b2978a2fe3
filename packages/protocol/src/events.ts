import type { MessageInits, Messages, MessageTypeName } from './generated/hsfl.js';

/**
 * socket.io event names, one per kind of message. The event name fixes the
 * message type (EVENT_TYPES); weightsUp and weightsDown both carry Weights.
 */
export const EVENTS = {
  hello: 'hsfl:hello',
  welcome: 'hsfl:welcome',
  roundStart: 'hsfl:round-start',
  activations: 'hsfl:activations',
  gradients: 'hsfl:gradients',
  roundDone: 'hsfl:round-done',
  weightsUp: 'hsfl:weights-up',
  weightsDown: 'hsfl:weights-down',
  evalReport: 'hsfl:eval-report',
  heartbeat: 'hsfl:heartbeat',
  error: 'hsfl:error',
  runEnd: 'hsfl:run-end',
  goodbye: 'hsfl:goodbye',
  revocations: 'hsfl:revocations',
  nodeStatus: 'hsfl:node-status',
  capacityRequest: 'hsfl:capacity-request',
  capacityReport: 'hsfl:capacity-report',
  probe: 'hsfl:probe',
  probeReply: 'hsfl:probe-reply',
} as const;

export type EventKey = keyof typeof EVENTS;
export type EventName = (typeof EVENTS)[EventKey];

/** The .proto message type each event carries. */
export const EVENT_TYPES = {
  'hsfl:hello': 'Hello',
  'hsfl:welcome': 'Welcome',
  'hsfl:round-start': 'RoundStart',
  'hsfl:activations': 'Activations',
  'hsfl:gradients': 'Gradients',
  'hsfl:round-done': 'RoundDone',
  'hsfl:weights-up': 'Weights',
  'hsfl:weights-down': 'Weights',
  'hsfl:eval-report': 'EvalReport',
  'hsfl:heartbeat': 'Heartbeat',
  'hsfl:error': 'ErrorReply',
  'hsfl:run-end': 'RunEnd',
  'hsfl:goodbye': 'Goodbye',
  'hsfl:revocations': 'Revocations',
  'hsfl:node-status': 'NodeStatus',
  'hsfl:capacity-request': 'CapacityRequest',
  'hsfl:capacity-report': 'CapacityReport',
  'hsfl:probe': 'Probe',
  'hsfl:probe-reply': 'ProbeReply',
} as const satisfies Record<EventName, MessageTypeName>;

export type EventTypeMap = typeof EVENT_TYPES;

/** Decoded message type of an event, e.g. MessageOf<typeof EVENTS.activations> is Activations. */
export type MessageOf<E extends EventName> = Messages[EventTypeMap[E]];
/** What encodeMessage / Peer.send accept for an event. */
export type MessageInitOf<E extends EventName> = MessageInits[EventTypeMap[E]];
/** Every event with its decoded message type. */
export type EventMessageMap = { [E in EventName]: MessageOf<E> };

export function isEventName(e: unknown): e is EventName {
  return typeof e === 'string' && Object.prototype.hasOwnProperty.call(EVENT_TYPES, e);
}
