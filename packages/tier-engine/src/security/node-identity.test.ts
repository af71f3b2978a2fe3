import assert from 'node:assert/strict';
import { ProtocolError } from '@hsfl/protocol';
import { certificateIdentity, identityUri, normalSerial, parentCertificateProblem, verifyChildCertificate, type ChildCertificateCheck } from './node-identity.js';

const san = (...uris: string[]) => ({ subjectaltname: uris.map((u) => `URI:${u}`).join(', '), serialNumber: '0A1B' });
const code = (c: string) => (err: unknown) => err instanceof ProtocolError && err.code === c;

describe('node identity from certificates', () => {
  it('reads the role, id and edge a certificate carries, and refuses malformed ones', () => {
    assert.deepEqual(certificateIdentity(san(identityUri('device', 'pi-01', 'edge-a'))), { role: 'device', id: 'pi-01', edge: 'edge-a' });
    assert.deepEqual(certificateIdentity(san(identityUri('edge', 'edge:a.1'))), { role: 'edge', id: 'edge:a.1' });
    assert.deepEqual(certificateIdentity({ subjectaltname: 'DNS:localhost, IP Address:127.0.0.1, URI:hsfl:cloud/cloud' }), { role: 'cloud', id: 'cloud' });
    for (const bad of ['hsfl:admin/pi', 'hsfl:device/cloud', 'hsfl:cloud/edge-a', 'hsfl:edge/e?edge=x', 'hsfl:device/' + 'x'.repeat(65), 'hsfl:device/a b']) {
      assert.equal(certificateIdentity(san(bad)), undefined, bad);
    }
    assert.equal(certificateIdentity({}), undefined);
    assert.equal(certificateIdentity(undefined), undefined);
  });

  it('normalises serials as Node prints them', () => {
    assert.equal(normalSerial('00ab12'), 'AB12');
    assert.equal(normalSerial('0'), '0');
  });

  const ok: ChildCertificateCheck = {
    authorized: true, cert: san(identityUri('device', 'pi-01', 'edge-a')), helloId: 'pi-01', expectRole: 'device', serverId: 'edge-a', isRevoked: () => false,
  };

  it('admits a device whose certificate proves the id it claims', () => {
    assert.deepEqual(verifyChildCertificate(ok), { id: 'pi-01', serial: 'A1B' });
  });

  it('refuses, each with its reason: no certificate, another CA, another role, another id, another edge, revoked', () => {
    assert.throws(() => verifyChildCertificate({ ...ok, cert: {} }), code('unauthorized'));
    assert.throws(() => verifyChildCertificate({ ...ok, cert: undefined }), code('unauthorized'));
    assert.throws(() => verifyChildCertificate({ ...ok, authorized: false, authorizationError: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
      (e: unknown) => code('unauthorized')(e) && /UNABLE_TO_VERIFY_LEAF_SIGNATURE/.test((e as Error).message) && /project's CA/.test((e as Error).message));
    assert.throws(() => verifyChildCertificate({ ...ok, cert: san(identityUri('edge', 'pi-01')) }), code('wrong_role'));
    assert.throws(() => verifyChildCertificate({ ...ok, helloId: 'pi-02' }), (e: unknown) => code('wrong_id')(e) && /pi-02/.test((e as Error).message));
    assert.throws(() => verifyChildCertificate({ ...ok, serverId: 'edge-b' }), code('wrong_edge'));
    assert.throws(() => verifyChildCertificate({ ...ok, isRevoked: (s, id) => s === 'A1B' && id === 'pi-01' }), code('revoked'));
    assert.throws(() => verifyChildCertificate({ ...ok, cert: { subjectaltname: 'DNS:pi-01', serialNumber: '01' } }), code('unauthorized'));
  });

  it('an unbound device may join any edge; an edge is checked without a server id', () => {
    assert.equal(verifyChildCertificate({ ...ok, cert: san(identityUri('device', 'pi-01')), serverId: 'edge-z' }).id, 'pi-01');
    assert.equal(verifyChildCertificate({ ...ok, cert: san(identityUri('edge', 'edge-a')), helloId: 'edge-a', expectRole: 'edge', serverId: undefined }).id, 'edge-a');
  });

  it('a node accepts only a parent of the expected role (and id, when it knows it)', () => {
    assert.equal(parentCertificateProblem(san(identityUri('edge', 'edge-a')), { role: 'edge' }), undefined);
    assert.equal(parentCertificateProblem(san(identityUri('edge', 'edge-a')), { role: 'edge', id: 'edge-a' }), undefined);
    assert.match(String(parentCertificateProblem(san(identityUri('edge', 'edge-b')), { role: 'edge', id: 'edge-a' })), /not "edge-a"/);
    assert.match(String(parentCertificateProblem(san(identityUri('device', 'pi-02')), { role: 'edge' })), /not a edge|device/);
    assert.match(String(parentCertificateProblem({ subjectaltname: 'DNS:localhost' }, { role: 'cloud' })), /without an hsfl identity/);
  });
});
