import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TrustedProxies } from './proxy.js';

/** A real HTTP server on loopback that answers what `proxies` makes of each request. */
async function echo(proxies: TrustedProxies): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ address: proxies.clientAddress(req), https: proxies.forwardedHttps(req) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

async function ask(url: string, headers: Record<string, string>): Promise<{ address: string; https: boolean }> {
  return (await (await fetch(url, { headers })).json()) as { address: string; https: boolean };
}

describe('TrustedProxies', () => {
  it('refuses entries that are not addresses or CIDR blocks, naming them', () => {
    for (const bad of ['localhost', '10.0.0.0/33', 'fd00::/129', '10.0.0', '', '1.2.3.4/x', '::1/-1']) {
      assert.throws(() => new TrustedProxies([bad]), new RegExp(`trusted proxy ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not an IP address or CIDR block`));
    }
    const p = new TrustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', ' ::1 ']);
    assert.equal(p.trusts('10.200.1.1'), true);
    assert.equal(p.trusts('::ffff:10.0.0.1'), true);
    assert.equal(p.trusts('192.0.2.7'), true);
    assert.equal(p.trusts('192.0.2.8'), false);
    assert.equal(p.trusts('fd12::1'), true);
    assert.equal(p.trusts('::1'), true);
    assert.equal(p.trusts('11.0.0.1'), false);
    assert.equal(p.trusts('garbage'), false);
    assert.equal(new TrustedProxies().trusts('127.0.0.1'), false);
  });

  it('ignores X-Forwarded-* from a peer it does not trust', async () => {
    for (const list of [[], ['10.0.0.0/8']]) {
      const { url, server } = await echo(new TrustedProxies(list));
      try {
        const r = await ask(url, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' });
        assert.deepEqual(r, { address: '127.0.0.1', https: false }, JSON.stringify(list));
      } finally {
        server.close();
      }
    }
  });

  it('believes a trusted peer, walking X-Forwarded-For from the right while the hops are trusted', async () => {
    const { url, server } = await echo(new TrustedProxies(['127.0.0.1', '10.0.0.0/8']));
    try {
      assert.deepEqual(await ask(url, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' }), { address: '203.0.113.9', https: true });
      // A client-supplied first entry is not believed past an untrusted hop.
      assert.equal((await ask(url, { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3' })).address, '203.0.113.9');
      // Garbage stops the walk at the last trusted hop's word.
      assert.equal((await ask(url, { 'x-forwarded-for': 'not-an-ip' })).address, '127.0.0.1');
      assert.equal((await ask(url, { 'x-forwarded-for': `${'1.1.1.1,'.repeat(1000)}198.51.100.1` })).address, '198.51.100.1');
      assert.equal((await ask(url, {})).address, '127.0.0.1');
      assert.equal((await ask(url, { 'x-forwarded-proto': 'http' })).https, false);
      assert.equal((await ask(url, { 'x-forwarded-proto': 'http, https' })).https, true);
    } finally {
      server.close();
    }
  });
});
