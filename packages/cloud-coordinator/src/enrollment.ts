// The coordinator's side of node identity (DESIGN §4b): it admits edges by
// their certificates against the store, enrolls and revokes nodes, and
// keeps the edges' revocation lists current. A revocation made by another
// process on the same store (the CLI) is noticed within a second.
import type { Socket as ServerSocket } from 'socket.io';
import type { LogLike } from '@hsfl/protocol';
import { verifySocketCertificate, type Hello, type NodeBundle, type ServerCredential } from '@hsfl/tier-engine';
import type { Store, EnrolledNode } from './store/index.js';
import { CoordinatorError } from './errors.js';
import { enrollNode, enrolledEvent, revokedEvent, type EnrollRequest, type IdentityEvent } from './pki/enroll.js';
import type { ProjectCa } from './pki/ca.js';

/** What the coordinator needs to run its links under TLS: the project CA and its own server credential. */
export interface CoordinatorPki {
  ca: ProjectCa;
  credential: ServerCredential;
}

export interface EnrollmentHooks {
  /** Sends the current revocation list to every edge. */
  broadcast: (serials: string[]) => void;
  /** Sends away, for good, joined edges holding a listed certificate; returns their ids. */
  kick: (serials: ReadonlySet<string>) => string[];
  event: (e: IdentityEvent) => void;
}

export class Enrollment {
  private stamp: string;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly store: Store, readonly pki: CoordinatorPki, private readonly log: LogLike, private readonly hooks: EnrollmentHooks, pollMs = 1000) {
    this.stamp = store.revocationStamp();
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  /** ChildLinks' authenticate for edges: the certificate proves the id, and the store says the credential is live. */
  authenticateEdge(hello: Hello, socket: ServerSocket): { id: string; serial: string } {
    return verifySocketCertificate(socket, {
      helloId: hello.nodeId,
      expectRole: 'edge',
      isRevoked: (serial, id) => !this.store.credentialValid(id, 'edge', serial),
    });
  }

  revokedSerials(): string[] {
    return this.store.revokedSerials();
  }

  enroll(request: EnrollRequest, by: string): { bundle: NodeBundle; node: EnrolledNode } {
    const out = enrollNode(this.store, this.pki.ca, request, by);
    this.hooks.event(enrolledEvent(request, by, out.bundle.serial));
    // A renewal revokes the earlier credentials.
    if (request.renew) this.apply();
    return out;
  }

  /** Revokes a node: its credentials stop working and it is disconnected at once, wherever it is connected. */
  revoke(id: string, reason: string, by: string): string[] {
    let serials: string[];
    try {
      serials = this.store.revokeNode(id, reason);
    } catch (err) {
      if ((err as { code?: string }).code === 'UNKNOWN_NODE') throw new CoordinatorError('not_found', (err as Error).message);
      if ((err as { code?: string }).code === 'INVALID_INPUT') throw new CoordinatorError('invalid', (err as Error).message);
      throw err;
    }
    this.hooks.event(revokedEvent(id, reason, by, serials));
    this.apply();
    return serials;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private poll(): void {
    try {
      if (this.store.revocationStamp() !== this.stamp) this.apply();
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not read revocations');
    }
  }

  private apply(): void {
    this.stamp = this.store.revocationStamp();
    const serials = this.store.revokedSerials();
    this.hooks.broadcast(serials);
    const kicked = this.hooks.kick(new Set(serials));
    for (const id of kicked) this.log.warn({ node: id }, `edge ${id} disconnected: its credential was revoked`);
  }
}
