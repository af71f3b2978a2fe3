import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sameSecret } from './secret.js';

describe('sameSecret (join tokens compared in constant time)', () => {
  it('matches equal strings only', () => {
    assert.equal(sameSecret('t0k3n', 't0k3n'), true);
    for (const other of ['t0k3N', 't0k3', 't0k3nn', '', ' t0k3n', 'x'.repeat(100_000)]) assert.equal(sameSecret(other, 't0k3n'), false, other);
    assert.equal(sameSecret('', ''), true);
    assert.equal(sameSecret('é', 'é'), true);
    assert.equal(sameSecret('é', 'e\u0301'), false, 'no normalisation: bytes decide');
  });

  it('never matches a non-string', () => {
    for (const v of [undefined, null, 1, {}, ['t0k3n'], Buffer.from('t0k3n')]) assert.equal(sameSecret(v, 't0k3n'), false);
  });

  it('compares sha256 digests with timingSafeEqual (not ===, whose time leaks the matching prefix)', () => {
    const src = readFileSync(fileURLToPath(new URL('../src/secret.ts', import.meta.url)), 'utf8');
    assert.match(src, /timingSafeEqual\(digest\(presented\), digest\(expected\)\)/);
    assert.match(src, /createHash\('sha256'\)/);
  });
});
