import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtocolError, Role } from '@hsfl/protocol';
import { addressKey, boundedHello, checkHello, loggableId } from './link-rules.js';
import { AddressLimiter } from './address-limiter.js';
import { isRefusal, refusalReport } from './failure-log.js';
import { addBounded } from './bounded.js';
import { SampleLedger } from './reports.js';

const code = (c: string) => (e: unknown) => e instanceof ProtocolError && e.code === c;

describe('link server limits as rules (no sockets)', () => {
  it('per-address limiter: a burst, one explained refusal per second, silent rejection beyond, refilled over time', () => {
    const l = new AddressLimiter({ burst: 20, perSecond: 2, maxAddresses: 100 });
    const first = Array.from({ length: 20 }, () => l.attempt('10.0.0.7', 0));
    assert.ok(first.every((v) => v === 'accept'));
    assert.equal(l.attempt('10.0.0.7', 0), 'refuse', 'the 21st is told why');
    assert.equal(l.attempt('10.0.0.7', 10), 'reject', 'then cut at the upgrade');
    assert.equal(l.attempt('10.0.0.7', 400), 'reject');
    assert.equal(l.attempt('10.0.0.8', 400), 'accept', 'other addresses are not affected');
    assert.equal(l.retryAfterMs('10.0.0.7', 400), 100);
    assert.equal(l.attempt('10.0.0.7', 500), 'accept', '2 per second: one more after 500 ms');
    assert.equal(l.attempt('10.0.0.7', 1100), 'accept', '1.2 tokens refilled');
    assert.equal(l.attempt('10.0.0.7', 1100), 'refuse', 'a second explanation a second after the first');
    assert.equal(l.attempt('10.0.0.7', 1100), 'reject');
  });

  it('the limiter table is bounded (least recently seen forgotten first) and pruned once buckets refill', () => {
    const l = new AddressLimiter({ burst: 2, perSecond: 1, maxAddresses: 64 });
    for (let i = 0; i < 100_000; i++) l.attempt(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i / 1000);
    assert.equal(l.size, 64);
    // The flooding host itself stays tracked while it keeps coming.
    for (let i = 0; i < 1000; i++) l.attempt('192.0.2.1', 100 + i / 1000);
    assert.equal(l.attempt('192.0.2.1', 101), 'reject');
    assert.equal(l.size, 64);
    assert.equal(l.prune(1e7), 64, 'all refilled long after');
    assert.equal(l.size, 0);
  });

  it('addresses are counted per IPv4 address and per IPv6 /64', () => {
    assert.equal(addressKey('127.0.0.1'), '127.0.0.1');
    assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2::1'), addressKey('2001:0db8:0001:0002:ffff::9'));
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey(undefined), 'unknown');
    assert.ok(addressKey('x'.repeat(10_000)).length < 90);
  });

  it('join tokens: wrong, missing or non-string tokens are unauthorized; the hello is cut to bounded text', () => {
    const expect = { token: 't0k3n', role: Role.ROLE_DEVICE, childName: 'device' };
    for (const token of ['t0k3N', '', 't0k3n ', 'x'.repeat(100_000), undefined, 42]) {
      assert.throws(() => checkHello({ token: token as string, role: Role.ROLE_DEVICE, nodeId: 'pi-01' }, expect), code('unauthorized'));
    }
    const big = boundedHello({ nodeId: 'pi-01', backend: 'b'.repeat(100_000), software: 's'.repeat(1000), host: 'h'.repeat(100_000), token: 't' });
    assert.deepEqual([big.backend.length, big.software.length, big.host.length], [64, 64, 128]);
    assert.equal(boundedHello({ nodeId: 'pi-01', backend: 'cpu', software: 'x', host: 'pi' }).host, 'pi');
    assert.equal(loggableId('y'.repeat(100_000)), `${'y'.repeat(64)}...(100000 chars)`);
  });

  it('join tokens are compared only through sameSecret (constant time) in every package', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) {
          // api/ holds the operator tokens, compared with timingSafeEqual by its own owner (auth.ts).
          if (!['node_modules', 'dist', 'generated', 'api'].includes(name)) walk(p);
        } else if (/\.tsx?$/.test(name) && !name.endsWith('.test.ts')) {
          files.push(p);
        }
      }
    };
    for (const pkg of readdirSync(root)) walk(join(root, pkg, 'src'));
    assert.ok(files.length > 50, `scanned ${files.length} files`);
    const plain = /\btoken\s*[!=]==?|[!=]==?\s*[\w.?]*\btoken\b/i;
    // Whether a token was given at all (=== undefined, .length === 0) is no comparison of secrets.
    const presenceFree = (line: string) => line.replace(/\s*[!=]==?\s*undefined|undefined\s*[!=]==?\s*/g, '').replace(/\.length\s*[!=<>]==?\s*\d+/g, '');
    const hits = files.flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ f, i, line })).filter((x) => plain.test(presenceFree(x.line)) && !/^\s*(\/\/|\*)/.test(x.line)));
    assert.deepEqual(hits.map((h) => `${h.f}:${h.i + 1}: ${h.line.trim()}`), []);
    assert.match(readFileSync(join(root, 'tier-engine/src/link-rules.ts'), 'utf8'), /sameSecret\(m\.token, expect\.token\)/);
  });

  it('refusal reports: counted by kind, busiest sources first, rejected messages and dropped replies left out', () => {
    assert.ok(isRefusal('hello:unauthorized') && isRefusal('no_hello') && isRefusal('pre_hello_budget') && isRefusal('rate_limited'));
    assert.ok(!isRefusal('rejected:malformed') && !isRefusal('probe:not_joined') && !isRefusal('reply_dropped'));
    const r = refusalReport([
      { key: 'hello:unauthorized|10.0.0.7', count: 900, suppressed: 899 },
      { key: 'hello:unauthorized|10.0.0.8', count: 100, suppressed: 99 },
      { key: 'no_hello|10.0.0.9', count: 3, suppressed: 2 },
      { key: 'rejected:malformed|10.0.0.7', count: 5000, suppressed: 4999 },
    ], 10_000)!;
    assert.equal(r.total, 1003);
    assert.deepEqual(r.byKind, { 'hello:unauthorized': 1000, no_hello: 3 });
    assert.deepEqual(r.top[0], { kind: 'hello:unauthorized', source: '10.0.0.7', count: 900 });
    assert.equal(refusalReport([{ key: 'probe:not_joined|a', count: 9, suppressed: 8 }], 1000), undefined);
  });

  it('id-keyed tables stay bounded: addBounded forgets the oldest, SampleLedger.retain keeps only who is still here', () => {
    const s = new Set<string>();
    for (let i = 0; i < 10_000; i++) addBounded(s, `d${i}`, 100);
    assert.equal(s.size, 100);
    assert.ok(s.has('d9999') && !s.has('d9899'));
    addBounded(s, 'd9900', 100);
    addBounded(s, 'new', 100);
    assert.ok(s.has('d9900'), 'a re-added id becomes the newest');
    const ledger = new SampleLedger();
    for (let i = 0; i < 1000; i++) ledger.add(`d${i}`, 8);
    ledger.retain((id) => id === 'd3' || id === 'd7');
    assert.equal(ledger.size, 2);
    assert.equal(ledger.of('d3'), 8);
    assert.equal(ledger.of('d4'), 0);
  });
});
