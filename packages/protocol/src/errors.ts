/**
 * Error codes carried by ProtocolError and, on the wire, by ErrorReply.code.
 * The listed ones are produced by this package; roles may use their own
 * (e.g. 'not_joined'), which is why the type stays open.
 */
export type KnownErrorCode =
  | 'malformed' // not binary, undecodable, missing a required field, unknown enum value
  | 'unknown_event' // no message type for this event name
  | 'too_large' // payload over the byte limit
  | 'bad_tensor' // tensor bytes inconsistent with dtype/shape/codec, wrong dtype, bad labels
  | 'bad_shape' // tensor shape differs from what the plan expects
  | 'not_finite' // NaN or +-Infinity in a float tensor
  | 'stale' // header.round is not the round in progress: late, repeated or out of turn
  | 'wrong_run' // header.runId is not the current run
  | 'wrong_plan' // header.planVersion is not the current plan
  | 'unauthorized' // bad join token, no or untrusted certificate
  | 'wrong_id' // the hello names another id than the node's certificate
  | 'wrong_role' // the certificate (or hello) is of another role than this server serves
  | 'wrong_edge' // a device enrolled for another edge
  | 'revoked' // the node's credential was revoked by the operator
  | 'duplicate_id' // the id is held by another connected node that answers
  | 'rate_limited' // too many connection attempts from this address; retry later
  | 'limit' // a configured limit (elements, rank, count) exceeded
  | 'not_joined' // message before Hello/Welcome
  | 'internal'; // the handler failed for a reason that is not the peer's fault

export type ErrorCode = KnownErrorCode | (string & {});

/** The one error type of the protocol layer: every rejection carries a code. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ErrorCode;
  /** The message without the `code: ` prefix (what ErrorReply.message carries). */
  readonly detail: string;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${code}: ${detail}` : code, options);
    this.code = code;
    this.detail = detail ?? code;
  }
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}
