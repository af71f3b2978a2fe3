// Which devices this edge admits under TLS (docs/security.md): those whose
// certificate of the project CA proves the id they claim, enrolled for this
// edge (or for none), and not on the revocation list the coordinator sends.
// Until the first list has arrived nobody is admitted: the edge cannot tell
// a revoked device from a good one.
import { ProtocolError } from '@hsfl/protocol';
import { normalSerial, verifySocketCertificate, type ChildLinksOptions, type Hello } from '@hsfl/tier-engine';

type ServerSocket = Parameters<NonNullable<ChildLinksOptions['authenticate']>>[1];

export class DeviceAdmission {
  private revoked?: Set<string>;

  constructor(private readonly edgeId: string) {}

  /** ChildLinks' authenticate for devices. */
  authenticate(hello: Hello, socket: ServerSocket): { id: string; serial: string } {
    const revoked = this.revoked;
    if (!revoked) throw new ProtocolError('unavailable', 'this edge has not heard from the coordinator yet; try again shortly');
    return verifySocketCertificate(socket, {
      helloId: hello.nodeId, expectRole: 'device', serverId: this.edgeId, isRevoked: (serial) => revoked.has(serial),
    });
  }

  /** Takes the coordinator's new list; returns it as a set, for sending away the devices on it. */
  update(serials: string[]): ReadonlySet<string> {
    this.revoked = new Set(serials.map(normalSerial));
    return this.revoked;
  }
}
