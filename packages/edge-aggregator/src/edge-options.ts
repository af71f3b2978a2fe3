// What an edge aggregator is started with (the CLI builds it from its flags).
import type { LogLike } from '@hsfl/protocol';
import type { LinkLimits, NodeBundle } from '@hsfl/tier-engine';

export interface EdgeOptions {
  id: string;
  cloudUrl: string;
  /** Token this edge presents to the cloud (insecure mode, no bundle). */
  token?: string;
  /** Token devices must present to this edge (insecure mode). */
  deviceToken?: string;
  /**
   * The edge's enrollment bundle: TLS on both sides. Its certificate is the
   * edge's identity towards the cloud and its server certificate towards
   * devices, which prove theirs with certificates of the same project CA.
   */
  bundle?: NodeBundle;
  /** Address and port devices connect to (port 0: any free port). */
  bindHost: string;
  port: number;
  backend: string;
  host: string;
  log: LogLike;
  /** Transport-level cap (socket.io maxHttpBufferSize); see docs/protocol.md. */
  maxBytes?: number;
  /** A device connection that has not said hello by then is closed (default 5 s). */
  helloTimeoutMs?: number;
  /** Overrides of the device port's limits (DEFAULT_LINK_LIMITS; docs/protocol.md, "Limits"). */
  linkLimits?: Partial<LinkLimits>;
}
