import { strict as assert } from 'node:assert';
import { EVENTS, encodeTensor, Role, Tier } from '@hsfl/protocol';
import { initBackend, BatchIterator } from '@hsfl/runtime';
import { startInProcess, maxAbsDiff, until, TOKEN, type InProcessFederation } from './helpers/inproc.js';
import { RoguePeer } from './helpers/rogue.js';

/**
 * Bad input never crashes a process, never changes weights, and is answered
 * with an ErrorReply and a log line (DESIGN §3, issue: bad input).
 * The rogue device is real enough to take part: with c1 = 0 a device's
 * "activations" are its raw images, so it can also send valid ones.
 */
describe('bad input is refused and changes nothing', function () {
  this.timeout(120000);
  let fed: InProcessFederation;
  let running: Promise<unknown>;
  let edgeUrl: string;
  let cloudUrl: string;

  before(async () => {
    await initBackend();
    fed = await startInProcess(
      { model: 'cnn-mnist', c1: 0, c2: 3, i1: 1, i2: 1, batchSize: 8, rounds: 6, evalEvery: 0, deadlineMs: 60000, minDevices: 3 },
      { devicesPerEdge: [2] },
    );
    edgeUrl = `http://127.0.0.1:${(fed.edges[0] as unknown as { port: number }).port}`;
    cloudUrl = `http://127.0.0.1:${fed.coordinator.port}`;
    running = fed.run();
  });

  after(async () => {
    await fed.close();
  });

  it('refuses a wrong join token at the edge and at the cloud, with an error reply and a log line', async () => {
    for (const [url, role, log] of [[edgeUrl, Role.ROLE_DEVICE, fed.logs.edge[0]!], [cloudUrl, Role.ROLE_EDGE, fed.logs.cloud]] as const) {
      const rogue = new RoguePeer(url);
      await rogue.connected();
      rogue.send(EVENTS.hello, { nodeId: 'intruder', role, token: 'wrong', backend: 'x', numSamples: 1, software: 't', host: 'h' });
      const err = await rogue.nextError();
      assert.equal(err.code, 'unauthorized');
      await until(() => rogue.disconnected, 5000, 'the intruder to be disconnected');
      assert.ok(log.has('warn', (l) => /wrong join token/.test(l.msg) || l.obj.code === 'unauthorized'));
      assert.ok(!fed.coordinator.topology().some((e) => e.id === 'intruder' || e.devices.some((d) => d.id === 'intruder')));
    }
  });

  it('refuses malformed bytes, non-binary payloads and a message before joining', async () => {
    const rogue = new RoguePeer(edgeUrl);
    await rogue.connected();
    rogue.sendRaw(EVENTS.activations, Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]));
    assert.equal((await rogue.nextError()).code, 'malformed');
    rogue.sendRaw(EVENTS.activations, 'not bytes at all');
    assert.equal((await rogue.nextError()).code, 'malformed');
    rogue.send(EVENTS.roundDone, { header: { runId: fed.coordinator.runId!, planVersion: 1, round: 0, sender: 'x' } });
    assert.equal((await rogue.nextError()).code, 'not_joined');
    assert.ok(fed.logs.edge[0]!.has('warn', (l) => l.obj.code === 'malformed'));
    rogue.close();
  });

  it('a joined rogue device: wrong shapes, NaN, oversized, wrong run, wrong plan version and stale rounds are refused without changing weights', async () => {
    const rogue = new RoguePeer(edgeUrl);
    await rogue.connected();
    rogue.send(EVENTS.hello, { nodeId: 'rogue', role: Role.ROLE_DEVICE, token: TOKEN, backend: 'x', numSamples: 100, software: 't', host: 'h' });
    const welcome = await rogue.nextMessage(EVENTS.welcome, 0);
    const runId = welcome.runId;
    // The rogue's RoundStart tells us which round the edge now waits on; the
    // round cannot finish without the rogue, so nothing else moves weights.
    const start = await rogue.nextMessage(EVENTS.roundStart, 0);
    const round = start.header!.round;
    const before = { edge: fed.edges[0]!.weights, cloud: fed.coordinator.globalWeights(), device: fed.devices[0]!.weights };
    const header = { runId, planVersion: 1, round, sender: 'rogue' };
    const img = (n: number, fill = 0.5) => encodeTensor(new Float32Array(n * 784).fill(fill), [n, 28, 28, 1]);
    const labels = (n: number) => encodeTensor(new Int32Array(n), [n]);

    const cases: [string, () => void][] = [
      ['bad_shape', () => rogue.send(EVENTS.activations, { header, activations: encodeTensor(new Float32Array(8 * 10), [8, 10]), labels: labels(8) })],
      ['bad_shape', () => rogue.send(EVENTS.activations, { header, activations: img(9), labels: labels(9) })],
      ['bad_tensor', () => rogue.send(EVENTS.activations, { header, activations: img(8), labels: encodeTensor(new Int32Array(8).fill(12), [8]) })],
      ['not_finite', () => {
        const a = new Float32Array(8 * 784).fill(0.1);
        a[1234] = Number.NaN;
        rogue.send(EVENTS.activations, { header, activations: encodeTensor(a, [8, 28, 28, 1]), labels: labels(8) });
      }],
      ['too_large', () => rogue.send(EVENTS.activations, { header, activations: encodeTensor(new Float32Array(3_000_000), [3_000_000]), labels: labels(8) })],
      ['wrong_run', () => rogue.send(EVENTS.activations, { header: { ...header, runId: 'another-run' }, activations: img(8), labels: labels(8) })],
      ['wrong_plan', () => rogue.send(EVENTS.activations, { header: { ...header, planVersion: 7 }, activations: img(8), labels: labels(8) })],
      ['stale', () => rogue.send(EVENTS.activations, { header: { ...header, round: round + 5 }, activations: img(8), labels: labels(8) })],
      ['stale', () => rogue.send(EVENTS.weightsUp, { header, tier: Tier.TIER_DEVICE, tensors: [], samples: 8 })],
    ];
    for (const [code, send] of cases) {
      send();
      const err = await rogue.nextError();
      assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
      assert.ok(fed.logs.edge[0]!.has('warn', (l) => l.obj.code === code), `a log line for ${code}`);
    }
    assert.equal(maxAbsDiff(fed.edges[0]!.weights, before.edge), 0);
    assert.equal(maxAbsDiff(fed.coordinator.globalWeights(), before.cloud), 0);
    assert.equal(maxAbsDiff(fed.devices[0]!.weights, before.device), 0);

    // A valid message is still accepted afterwards, and sending it twice is refused as a repeat.
    const it = new BatchIterator(fed.data, fed.shards[0]!, 8, 99);
    const b = it.next();
    const good = { header, activations: encodeTensor(b.x, [8, 28, 28, 1]), labels: encodeTensor(b.y, [8]) };
    const seen = rogue.received.length;
    rogue.send(EVENTS.activations, good);
    rogue.send(EVENTS.activations, good);
    assert.equal((await rogue.nextError()).code, 'stale');
    const grads = await rogue.nextMessage(EVENTS.gradients, seen);
    assert.equal(grads.header!.round, round);
    rogue.send(EVENTS.roundDone, { header, samples: 8, computeMs: 1 });
    rogue.close();
  });

  it('a rogue edge at the cloud: malformed and stale messages are refused; the run still completes', async () => {
    const rogue = new RoguePeer(cloudUrl);
    await rogue.connected();
    rogue.send(EVENTS.hello, { nodeId: 'rogue-edge', role: Role.ROLE_EDGE, token: TOKEN, backend: 'x', numSamples: 0, software: 't', host: 'h' });
    const welcome = await rogue.nextMessage(EVENTS.welcome, 0);
    rogue.sendRaw(EVENTS.activations, Buffer.from('garbage'));
    assert.equal((await rogue.nextError()).code, 'malformed');
    rogue.send(EVENTS.weightsUp, { header: { runId: welcome.runId, planVersion: 1, round: 0, sender: 'rogue-edge' }, tier: Tier.TIER_EDGE, tensors: [], samples: 1 });
    assert.equal((await rogue.nextError()).code, 'stale');
    assert.ok(fed.logs.cloud.has('warn', (l) => l.obj.code === 'malformed'));
    rogue.close();
    const summary = (await running) as { status: string; rounds: number };
    assert.equal(summary.status, 'completed');
    assert.equal(summary.rounds, 6);
  });
});
