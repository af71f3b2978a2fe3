import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { LinkProber, answerProbes } from './probe.js';
import type { LogLike } from './peer.js';

const quiet: LogLike = { debug() {}, info() {}, warn() {}, error() {} };

describe('link probes over a real socket.io connection', function () {
  this.timeout(30000);

  it('measures a finite round trip and rates on loopback, growing the payload until transfers are measurable', async () => {
    const http = createServer();
    const server = new Server(http, { maxHttpBufferSize: 16 * 1024 * 1024 });
    server.on('connection', (s) => answerProbes(s, quiet));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const client = io(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { transports: ['websocket'] });
    try {
      await new Promise<void>((r) => client.once('connect', () => r()));
      const m = await new LinkProber(client).measure({ bytes: 16 * 1024, reps: 3 });
      assert.ok(Number.isFinite(m.rttMs) && m.rttMs > 0, `rtt ${m.rttMs}`);
      for (const rate of [m.upBytesPerSec, m.downBytesPerSec]) {
        // Loopback moves well over 10 MB/s and (through socket.io and
        // protobuf) far under 100 GB/s; a figure outside that is a timing artefact.
        assert.ok(rate > 1e7 && rate < 1e11, `rate ${rate}`);
      }
    } finally {
      client.disconnect();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
