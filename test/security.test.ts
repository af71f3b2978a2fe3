// Issue 9 over real TLS sockets and real processes: a federation of enrolled
// nodes trains; a revoked device is disconnected at once and exits for good;
// a certificate from another CA, a node claiming another's id, another
// role's id or another edge, a revoked credential and a plain-http client
// are each refused with a clear error, and the store does not change.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalFederation, cliPath, type ProgressLine } from '@hsfl/lab';
import { ProjectCa, Store, defaultPkiDir } from '@hsfl/cloud-coordinator';
import { EVENTS, Role } from '@hsfl/protocol';
import { clientTlsOptions, type NodeBundle } from '@hsfl/tier-engine';
import { CHAOS_TRIAL } from './helpers/chaos.js';
import { RoguePeer } from './helpers/rogue.js';

const run = promisify(execFile);

async function coordinatorCli(db: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [cliPath('@hsfl/cloud-coordinator'), ...args, '--db', db]);
  return stdout;
}

async function until(cond: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A plain-http GET; resolves with the status and body. */
function plainGet(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/socket.io/?EIO=4&transport=websocket' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Connects with a bundle's credential (or another), says hello as `id`/`role`, and returns the peer once it was answered. */
async function helloWith(url: string, cred: { caCert: string; cert: string; key: string }, expect: { role: 'edge' | 'cloud'; id?: string }, id: string, role: Role): Promise<RoguePeer> {
  const peer = new RoguePeer(url, clientTlsOptions(cred, expect) as unknown as Record<string, unknown>);
  await peer.connected();
  peer.send(EVENTS.hello, { nodeId: id, role, token: '', backend: 'cpu', numSamples: 10, software: 'rogue', host: 'rogue' });
  return peer;
}

describe('security: TLS on every link, enrolled nodes, revocation', function () {
  this.timeout(10 * 60 * 1000);
  let dir: string;
  let db: string;
  let fed: LocalFederation;
  let done: ProgressLine & { status?: string; testAccuracy?: number; runId?: string };
  let bundle: (id: string) => NodeBundle;
  let edgeUrl: (e: number) => string;
  let cloudUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hsfl-security-'));
    db = join(dir, 'hsfl.sqlite');
    fed = new LocalFederation({
      trial: { ...CHAOS_TRIAL, name: 'secure', rounds: 200 },
      edges: 2, devicesPerEdge: 2, partition: 'iid', alpha: 1, dataSeed: 3, token: 'unused-under-tls', db, logDir: join(dir, 'logs'), stay: true,
    });
    bundle = (id) => JSON.parse(readFileSync(join(dir, 'logs', 'bundles', `${id}.hsfl.json`), 'utf8')) as NodeBundle;
    await fed.start();
    edgeUrl = (e) => `https://127.0.0.1:${fed.edges.get(`edge-${e}`)!.port}`;
    cloudUrl = `https://127.0.0.1:${fed.cloudPort}`;
  });

  after(async () => {
    await fed?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trains end to end over TLS with enrolled nodes; revoking a device mid-run disconnects it at once and it exits for good', async () => {
    let round = -1;
    fed.onProgress((m) => {
      if (m.type === 'round') round = Number(m.round);
    });
    await until(() => round >= 20, 'round 20', 120000);
    const victim = fed.devices.get('device-1-1')!;
    const t0 = Date.now();
    const out = await coordinatorCli(db, 'revoke', 'device-1-1', '--reason', 'test: stolen board');
    assert.match(out, /device-1-1 revoked/);
    const code = await victim.exited;
    // 3 = EXIT_GONE: told by its edge that it is gone for good.
    assert.equal(code, 3, `the revoked device exited with ${code}`);
    assert.ok(Date.now() - t0 < 10000, `the revoked device took ${Date.now() - t0} ms to go`);
    done = await fed.waitDone(5 * 60 * 1000);
    assert.equal(done.status, 'completed');
    assert.ok(Number(done.testAccuracy) > 0.8, `test accuracy ${done.testAccuracy}`);
    const log = readFileSync(join(dir, 'logs', 'device-1-1.log'), 'utf8');
    assert.match(log, /revoked by the operator/);
  });

  it('refuses a certificate of another CA, another id, another role, another edge, a revoked one and plain http, and the store does not change', async () => {
    const store = Store.open(db);
    const snapshot = () => JSON.stringify({ enrolled: store.enrolledNodes(), nodes: store.listNodes(String(done.runId)), runs: store.listRuns() });
    const before = snapshot();
    const peers: RoguePeer[] = [];
    try {
      const d00 = bundle('device-0-0');
      // A certificate of another project's CA, for an id this project enrolled.
      const other = ProjectCa.create(join(dir, 'other-pki'));
      const foreign = other.issue({ role: 'device', id: 'device-0-1', edge: 'edge-0' });
      let p = await helloWith(edgeUrl(0), { caCert: d00.caCert, cert: foreign.certPem, key: foreign.keyPem }, { role: 'edge' }, 'device-0-1', Role.ROLE_DEVICE);
      peers.push(p);
      let e = await p.nextError();
      assert.equal(e.code, 'unauthorized');
      assert.match(e.message, /not issued by this project's CA/);
      await until(() => p.disconnected, 'the foreign node to be disconnected');

      // device-0-0's own certificate, claiming device-0-1's id.
      p = await helloWith(edgeUrl(0), d00, { role: 'edge' }, 'device-0-1', Role.ROLE_DEVICE);
      peers.push(p);
      e = await p.nextError();
      assert.equal(e.code, 'wrong_id');
      assert.match(e.message, /certificate is for "device-0-0"/);

      // A device's certificate at the coordinator, saying hello as an edge (another role's id).
      p = await helloWith(cloudUrl, d00, { role: 'cloud', id: 'cloud' }, 'device-0-0', Role.ROLE_EDGE);
      peers.push(p);
      e = await p.nextError();
      assert.equal(e.code, 'wrong_role');
      assert.match(e.message, /only edges join here/);

      // device-0-0 is enrolled for edge-0, not edge-1.
      p = await helloWith(edgeUrl(1), d00, { role: 'edge' }, 'device-0-0', Role.ROLE_DEVICE);
      peers.push(p);
      e = await p.nextError();
      assert.equal(e.code, 'wrong_edge');

      // The revoked device's own bundle: refused, and told it is gone for good.
      p = await helloWith(edgeUrl(1), bundle('device-1-1'), { role: 'edge', id: 'edge-1' }, 'device-1-1', Role.ROLE_DEVICE);
      peers.push(p);
      e = await p.nextError();
      assert.equal(e.code, 'revoked');
      await until(() => p.goodbyes.some((g) => g.permanent), 'a permanent goodbye');

      // A node that pins another CA refuses the edge's certificate itself.
      const pinsOther = new RoguePeer(edgeUrl(0), clientTlsOptions({ caCert: other.certPem, cert: foreign.certPem, key: foreign.keyPem }, { role: 'edge' }) as unknown as Record<string, unknown>);
      peers.push(pinsOther);
      await assert.rejects(pinsOther.connected(), (err: Error & { description?: { message?: string } }) => /self-signed certificate in certificate chain/.test(String(err.description?.message)));

      // Plain http at the TLS ports: a readable refusal.
      for (const port of [fed.edges.get('edge-0')!.port, fed.cloudPort]) {
        const r = await plainGet(port);
        assert.equal(r.status, 400);
        assert.match(r.body, /speaks only TLS: connect with https:\/\//);
      }

      // Ids are unique across roles, and the coordinator's is reserved.
      await assert.rejects(coordinatorCli(db, 'enroll', '--role', 'device', '--id', 'edge-0', '--out', join(dir, 'x.json'), '--pki-dir', defaultPkiDir(db)), /already enrolled as a edge/);
      await assert.rejects(coordinatorCli(db, 'enroll', '--role', 'device', '--id', 'cloud', '--out', join(dir, 'x.json'), '--pki-dir', defaultPkiDir(db)), /reserved for the coordinator/);

      assert.equal(snapshot(), before, 'refusals changed the store');
      assert.ok(fed.coordinator!.alive && fed.edges.get('edge-0')!.proc.alive && fed.edges.get('edge-1')!.proc.alive);
      const listing = await coordinatorCli(db, 'nodes');
      assert.match(listing, /device-1-1\s+device\s+edge-1\s+revoked/);
      assert.match(listing, /edge-0\s+edge\s+-\s+(connected|enrolled)/);
    } finally {
      for (const p of peers) p.close();
      store.close();
    }
  });
});
