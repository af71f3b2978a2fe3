import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { DEFAULT_PROBE_BUDGET, LinkProber, ProbeAllowance, answerProbes, type ProbeBudget, type ProbeDrop } from './probe.js';
import type { LogLike } from './peer.js';

const quiet: LogLike = { debug() {}, info() {}, warn() {}, error() {} };
const MiB = 1024 * 1024;

describe('probe budget rule (no sockets)', () => {
  const budget: ProbeBudget = { maxReplyBytes: 8 * MiB, maxQueuedBytes: MiB, burstBytes: 64 * MiB, bytesPerSec: 32 * MiB, burstProbes: 100, probesPerSec: 50 };

  it('answers nothing before hello, and nothing while more than maxQueuedBytes waits for the child', () => {
    const a = new ProbeAllowance(budget, 0);
    assert.deepEqual(a.verdict({ joined: false, requested: 0, queuedBytes: 0 }, 0), { drop: 'not_joined' });
    assert.deepEqual(a.verdict({ joined: true, requested: 8 * MiB, queuedBytes: MiB + 1 }, 0), { drop: 'not_reading' });
    assert.deepEqual(a.verdict({ joined: true, requested: 8 * MiB, queuedBytes: 1000 }, 0), { reply: 8 * MiB });
  });

  it('caps a reply at maxReplyBytes and refuses nonsense sizes', () => {
    const a = new ProbeAllowance(budget, 0);
    assert.deepEqual(a.verdict({ joined: true, requested: 2 ** 32 - 1, queuedBytes: 0 }, 0), { reply: 8 * MiB });
    assert.deepEqual(a.verdict({ joined: true, requested: -5, queuedBytes: 0 }, 0), { reply: 0 });
  });

  it('a flood is cut by the byte budget and the count budget; both refill', () => {
    const a = new ProbeAllowance(budget, 0);
    const big = Array.from({ length: 20 }, () => a.verdict({ joined: true, requested: 8 * MiB, queuedBytes: 0 }, 0));
    assert.equal(big.filter((v) => 'reply' in v).length, 8, '64 MiB burst = eight 8 MiB replies');
    assert.deepEqual(big[8], { drop: 'over_budget' });
    assert.ok('reply' in a.verdict({ joined: true, requested: 8 * MiB, queuedBytes: 0 }, 250), '32 MiB/s: 8 MiB back after 250 ms');
    const b = new ProbeAllowance(budget, 0);
    const small = Array.from({ length: 200 }, () => b.verdict({ joined: true, requested: 0, queuedBytes: 0 }, 0));
    assert.equal(small.filter((v) => 'reply' in v).length, 100);
    assert.ok('reply' in b.verdict({ joined: true, requested: 0, queuedBytes: 0 }, 20));
  });

  it('one LinkProber measurement fits the default budget (its worst case: 256 KiB growing to 8 MiB, 3 reps)', () => {
    const a = new ProbeAllowance(DEFAULT_PROBE_BUDGET, 0);
    const sizes = [0, 0];
    for (const s of [256 * 1024, MiB, 4 * MiB, 8 * MiB]) for (let r = 0; r < 3; r++) sizes.push(0, 0, s);
    for (const s of sizes) assert.ok('reply' in a.verdict({ joined: true, requested: s, queuedBytes: 0 }, 0), `probe of ${s}`);
  });
});

describe('link probes over a real socket.io connection', function () {
  this.timeout(30000);

  async function serve(gate: { joined: () => boolean; dropped?: (r: ProbeDrop) => void }, budget?: ProbeBudget) {
    const http = createServer();
    const server = new Server(http, { maxHttpBufferSize: 16 * MiB });
    server.on('connection', (s) => answerProbes(s, quiet, { joined: gate.joined, queuedBytes: () => 0, dropped: gate.dropped ?? (() => {}) }, budget));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const client = io(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'] });
    await new Promise<void>((r) => client.once('connect', () => r()));
    return {
      client,
      close: async () => {
        client.disconnect();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it('measures a finite round trip and rates on loopback, growing the payload until transfers are measurable', async () => {
    const s = await serve({ joined: () => true });
    try {
      const m = await new LinkProber(s.client).measure({ bytes: 16 * 1024, reps: 3 });
      assert.ok(Number.isFinite(m.rttMs) && m.rttMs > 0, `rtt ${m.rttMs}`);
      for (const rate of [m.upBytesPerSec, m.downBytesPerSec]) {
        // Loopback moves well over 10 MB/s and (through socket.io and
        // protobuf) far under 100 GB/s; a figure outside that is a timing artefact.
        assert.ok(rate > 1e7 && rate < 1e11, `rate ${rate}`);
      }
    } finally {
      await s.close();
    }
  });

  it('a parent that caps replies below what was asked still yields a sound download rate (measured on what arrived)', async () => {
    const s = await serve({ joined: () => true }, { ...DEFAULT_PROBE_BUDGET, maxReplyBytes: 64 * 1024 });
    try {
      const m = await new LinkProber(s.client).measure({ bytes: 1024 * 1024, reps: 3, timeoutMs: 5000 });
      assert.ok(m.downBytesPerSec > 1e6 && m.downBytesPerSec < 1e11, `rate ${m.downBytesPerSec}`);
    } finally {
      await s.close();
    }
  });

  it('a sender that has not joined gets no reply at all', async () => {
    const drops: ProbeDrop[] = [];
    const s = await serve({ joined: () => false, dropped: (r) => void drops.push(r) });
    try {
      await assert.rejects(new LinkProber(s.client).measure({ timeoutMs: 300 }), /no reply within 300 ms/);
      assert.deepEqual(drops, ['not_joined']);
    } finally {
      await s.close();
    }
  });
});
