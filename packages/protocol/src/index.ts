// @hsfl/protocol: the wire protocol of hsfl (DESIGN.md section 3).
// proto/hsfl.proto is the source of truth; src/generated/hsfl.ts is built
// from it by scripts/gen-proto.mjs. See docs/protocol.md.
export * from './generated/hsfl.js';
export { ProtocolError, isProtocolError, type ErrorCode, type KnownErrorCode } from './errors.js';
export {
  EVENTS, EVENT_TYPES, isEventName,
  type EventKey, type EventName, type EventTypeMap, type EventMessageMap, type MessageOf, type MessageInitOf,
} from './events.js';
export { encodeMessage, decodeMessage, payloadBytes, messageType, type DecodeOptions } from './messages.js';
export {
  encodeTensor, decodeTensor, tensorInfo, shapeSize, codecName, codecValue, roundToHalf, isHostLittleEndian,
  MAX_RANK, MAX_TENSOR_ELEMENTS,
  type TensorDType, type TensorCodecName, type DecodedTensor, type DecodedTensorOf, type FloatTensor, type IntTensor,
  type TensorLike, type TensorInfo, type DecodeTensorOptions,
} from './tensor.js';
export {
  checkHeader, expectTensor, checkLabels, checkWeights, checkCapacityFigures, checkFigure, allFinite, firstNonFinite,
  type ExpectedHeader, type TensorSpec,
} from './validate.js';
export {
  MAX_MESSAGE_BYTES, HARD_MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, MAX_DEVICES_PER_EDGE, messageLimitFor, requiredMessageBytes,
  type MessageLimitParams,
} from './limits.js';
export {
  Peer, Mailbox, errorReplyFor,
  type PeerOptions, type LogLike, type ByteTotals, type SocketLike,
} from './peer.js';
export {
  LinkProber, answerProbes, ProbeAllowance, MAX_PROBE_BYTES, DEFAULT_PROBE_BUDGET,
  type LinkMeasurement, type ProbeBudget, type ProbeGate, type ProbeDrop,
} from './probe.js';
export { TokenBucket } from './token-bucket.js';
export { LogCoalescer, clip, type CoalescerOptions, type CoalescedCount } from './coalesce.js';
export { sameSecret } from './secret.js';
export { NODE_ID_PATTERN, CLOUD_ID, MAX_BATCH_SIZE, isNodeId, checkNodeId, isBatchSize, checkBatchSize } from './identity.js';
