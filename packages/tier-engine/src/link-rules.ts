// The rules of the two link halves as pure functions, so that they are
// decided (and tested) apart from sockets: who may join, what happens to a
// second hello under a taken id, and how a node retries its parent.
import { ProtocolError, checkNodeId, type Role } from '@hsfl/protocol';

/**
 * What a hello must carry to join: the role this server serves, a valid
 * id, and (without TLS identities, token defined) the join token; returns
 * the id. Under TLS the certificate proves the id instead (ChildLinks'
 * authenticate), and the token is not asked for.
 */
export function checkHello(m: { token: string; role: Role; nodeId: string }, expect: { token?: string; role: Role; childName: string }): string {
  if (expect.token !== undefined && m.token !== expect.token) throw new ProtocolError('unauthorized', 'wrong join token');
  if (m.role !== expect.role) throw new ProtocolError('malformed', `only ${expect.childName}s may join here`);
  return checkNodeId(m.nodeId);
}

/** Refusals of a hello after which the connection is closed at once (the node may retry; 'revoked' is for good). */
export const HELLO_REFUSALS: ReadonlySet<string> = new Set(['unauthorized', 'wrong_id', 'wrong_role', 'wrong_edge', 'revoked', 'unavailable']);

/**
 * A second hello under an id that was held when it arrived, decided once
 * the holder's liveness check is over. Nobody can prove who the real holder
 * is with a shared token, so the connection that is demonstrably alive keeps
 * the id: the newcomer takes over only from a holder that is still the one
 * it asked about and did not answer; if the id was freed meanwhile it joins.
 */
export function secondHelloVerdict<L>(holderAskedAbout: L, holderNow: L | undefined, holderAnswered: boolean): 'join' | 'refuse' | 'replace' {
  if (holderNow === undefined) return 'join';
  if (holderNow !== holderAskedAbout || holderAnswered) return 'refuse';
  return 'replace';
}

/** Delay before reconnection attempt n (1-based): doubling from minMs, capped at maxMs. */
export function reconnectDelay(n: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.min(Math.max(n, 1), 10));
}

/** Whether attempt n gets a log line: the first three, then every tenth (visible without flooding). */
export function logsAttempt(n: number): boolean {
  return n <= 3 || n % 10 === 0;
}

/**
 * Whether the node itself must reconnect after a disconnect: socket.io-client
 * retries by itself except after the server closed the connection, which is
 * what a restarting parent does.
 */
export function mustReconnectItself(reason: string): boolean {
  return reason === 'io server disconnect';
}
