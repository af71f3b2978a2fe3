import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// dist/generated.test.js -> packages/protocol
const pkg = fileURLToPath(new URL('..', import.meta.url));

describe('generated code', () => {
  it('src/generated/hsfl.ts is up to date with proto/hsfl.proto', async () => {
    const gen = (await import(pathToFileURL(`${pkg}scripts/gen-proto.mjs`).href)) as { generate(): string };
    const current = readFileSync(`${pkg}src/generated/hsfl.ts`, 'utf8');
    assert.ok(gen.generate() === current, 'stale: run npm run build -w @hsfl/protocol');
  });
});
