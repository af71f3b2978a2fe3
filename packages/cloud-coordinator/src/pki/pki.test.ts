import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNodeBundle, certificateIdentity } from '@hsfl/tier-engine';
import { Store } from '../store/index.js';
import { ProjectCa } from './ca.js';
import { enrollNode } from './enroll.js';
import { serverCredential } from './server-cert.js';

describe('project CA, enrollment and bundles', function () {
  this.timeout(60000);
  let dir: string;
  let ca: ProjectCa;
  let store: Store;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hsfl-pki-'));
    ca = ProjectCa.create(join(dir, 'pki'));
  });
  beforeEach(() => {
    store = Store.open(join(dir, `s-${Math.random().toString(36).slice(2)}.sqlite`));
  });
  afterEach(() => store.close());
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a CA once, its key readable by the owner only, and loads it back', () => {
    assert.equal(statSync(join(ca.dir, 'ca.key')).mode & 0o777, 0o600);
    assert.throws(() => ProjectCa.create(ca.dir), /refusing to replace/);
    const again = ProjectCa.load(ca.dir);
    assert.equal(again.fingerprint, ca.fingerprint);
    assert.equal(again.created, false);
    const x = new X509Certificate(ca.certPem);
    assert.equal(x.ca, true);
    assert.throws(() => ProjectCa.load(join(dir, 'nowhere')), /hsfl-coordinator ca init/);
  });

  it('refuses a CA whose key does not belong to its certificate', () => {
    const other = ProjectCa.create(join(dir, 'other'));
    writeFileSync(join(other.dir, 'ca.key'), readFileSync(join(ca.dir, 'ca.key')));
    assert.throws(() => ProjectCa.load(other.dir), /does not belong/);
  });

  it('issues certificates that chain to the CA and carry the identity', () => {
    const c = ca.issue({ role: 'device', id: 'pi-01', edge: 'edge-a' });
    const x = new X509Certificate(c.certPem);
    assert.ok(x.verify(new X509Certificate(ca.certPem).publicKey));
    assert.equal(x.serialNumber.toUpperCase(), c.serial);
    assert.deepEqual(certificateIdentity({ subjectaltname: x.subjectAltName }), { role: 'device', id: 'pi-01', edge: 'edge-a' });
    assert.throws(() => ca.issue({ role: 'device', id: 'cloud' }), /belongs to the coordinator/);
    assert.throws(() => ca.issue({ role: 'edge', id: 'e', edge: 'x' }), /only a device/);
    assert.throws(() => ca.issue({ role: 'device', id: 'a/b' }), /bad id/);
  });

  it('enrolls a node into a checked bundle; ids are unique across roles; nothing is stored on refusal', () => {
    const { bundle, node } = enrollNode(store, ca, { role: 'device', id: 'pi-01', edge: 'edge-a', parentUrl: 'https://10.0.0.2:7100' }, 'test');
    assert.equal(node.serial, bundle.serial);
    const checked = checkNodeBundle(JSON.parse(JSON.stringify(bundle)));
    assert.equal(checked.bundle.id, 'pi-01');
    assert.deepEqual(checked.warnings, []);
    enrollNode(store, ca, { role: 'edge', id: 'edge-a' }, 'test');
    const before = JSON.stringify(store.enrolledNodes());
    assert.throws(() => enrollNode(store, ca, { role: 'edge', id: 'pi-01' }, 'test'), /already enrolled as a device/);
    assert.throws(() => enrollNode(store, ca, { role: 'device', id: 'edge-a' }, 'test'), /already enrolled as a edge|unique across roles/);
    assert.throws(() => enrollNode(store, ca, { role: 'device', id: 'cloud' }, 'test'), /reserved/);
    assert.throws(() => enrollNode(store, ca, { role: 'device', id: 'pi-02', edge: 'pi-01' }, 'test'), /not an edge/);
    assert.throws(() => enrollNode(store, ca, { role: 'device', id: 'pi-03', parentUrl: 'http://x:1' }, 'test'), /https/);
    assert.equal(JSON.stringify(store.enrolledNodes()), before);
  });

  it('revocation: the credential stops being valid, the serial is listed, and renewal replaces it', () => {
    const first = enrollNode(store, ca, { role: 'edge', id: 'edge-b' }, 'test').bundle;
    assert.ok(store.credentialValid('edge-b', 'edge', first.serial));
    assert.equal(store.credentialValid('edge-b', 'device', first.serial), false);
    const stamp = store.revocationStamp();
    assert.deepEqual(store.revokeNode('edge-b', 'stolen'), [first.serial]);
    assert.notEqual(store.revocationStamp(), stamp);
    assert.equal(store.credentialValid('edge-b', 'edge', first.serial), false);
    assert.deepEqual(store.revokedSerials(), [first.serial]);
    assert.deepEqual(store.revokeNode('edge-b', 'again'), []);
    assert.equal(store.enrolledNode('edge-b')!.revokedReason, 'stolen');
    assert.throws(() => enrollNode(store, ca, { role: 'edge', id: 'edge-b' }, 'test'), /revoked/);
    const second = enrollNode(store, ca, { role: 'edge', id: 'edge-b', renew: true }, 'test').bundle;
    assert.ok(store.credentialValid('edge-b', 'edge', second.serial));
    assert.equal(store.credentialValid('edge-b', 'edge', first.serial), false);
    // Renewing a live node revokes its previous credential.
    const third = enrollNode(store, ca, { role: 'edge', id: 'edge-b', renew: true }, 'test').bundle;
    assert.equal(store.credentialValid('edge-b', 'edge', second.serial), false);
    assert.ok(store.credentialValid('edge-b', 'edge', third.serial));
    assert.deepEqual(store.revokedSerials().sort(), [first.serial, second.serial].sort());
    assert.throws(() => store.revokeNode('nobody', ''), /no enrolled node/);
  });

  it('a bundle from another CA, tampered, for another role, or expired is refused with the reason', () => {
    const { bundle } = enrollNode(store, ca, { role: 'device', id: 'pi-09' }, 'test');
    const other = ProjectCa.create(join(dir, 'third'));
    const foreign = other.issue({ role: 'device', id: 'pi-09' });
    assert.throws(() => checkNodeBundle({ ...bundle, cert: foreign.certPem, key: foreign.keyPem }), /not issued by the bundled CA/);
    assert.throws(() => checkNodeBundle({ ...bundle, key: foreign.keyPem }), /key does not belong/);
    assert.throws(() => checkNodeBundle({ ...bundle, role: 'edge' }), /not for the edge/);
    assert.throws(() => checkNodeBundle({ ...bundle, id: 'pi-10' }), /not for the device "pi-10"/);
    assert.throws(() => checkNodeBundle({ ...bundle, kind: 'x' }), /not an hsfl node bundle/);
    assert.throws(() => checkNodeBundle(bundle, Date.now() + 400 * 86400000), /expired/);
    assert.match(checkNodeBundle(bundle, Date.now() + 350 * 86400000).warnings.join(), /expires in \d+ days/);
  });

  it('the coordinator\'s certificate is kept, and reissued when it does not cover a name asked for', () => {
    const a = serverCredential(ca, ['localhost', '127.0.0.1']);
    assert.equal(a.reissued, true);
    assert.equal(serverCredential(ca, ['localhost']).reissued, false);
    const b = serverCredential(ca, ['localhost', 'coord.example.org']);
    assert.equal(b.reissued, true);
    assert.ok(new X509Certificate(b.cert).checkHost('coord.example.org'));
    assert.equal(statSync(join(ca.dir, 'cloud.key')).mode & 0o777, 0o600);
  });
});
