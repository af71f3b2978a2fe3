import assert from 'node:assert/strict';
import { resolveNodeSecurity, INSECURE_WARNING } from './node-cli.js';

describe('resolveNodeSecurity (the node CLIs\' choice between a bundle and --insecure)', () => {
  it('refuses to start with neither a bundle nor --insecure, saying how to get a bundle', () => {
    assert.throws(() => resolveNodeSecurity('device', { insecure: false, url: 'http://x:1' }, 'd'), /--bundle <file>.*hsfl-coordinator enroll --role device/);
  });

  it('--insecure needs a token and a plain http address, and warns loudly', () => {
    assert.throws(() => resolveNodeSecurity('edge', { insecure: true, url: 'http://x:1' }, 'e'), /needs --token/);
    assert.throws(() => resolveNodeSecurity('edge', { insecure: true, token: 't', url: 'https://x:1' }, 'e'), /http:\/\/ address with --insecure/);
    assert.throws(() => resolveNodeSecurity('edge', { insecure: true, token: 't' }, 'e'), /--cloud is required/);
    const s = resolveNodeSecurity('edge', { insecure: true, token: 't', url: 'http://x:1' }, 'edge-h');
    assert.deepEqual({ id: s.id, token: s.token, url: s.url, bundle: s.bundle }, { id: 'edge-h', token: 't', url: 'http://x:1', bundle: undefined });
    assert.deepEqual(s.warnings, [INSECURE_WARNING]);
  });

  it('a bundle excludes --insecure and --token, and a missing bundle file is a clear error', () => {
    assert.throws(() => resolveNodeSecurity('device', { insecure: true, bundle: 'b.json', token: 't', url: 'http://x' }, 'd'), /exclude each other/);
    assert.throws(() => resolveNodeSecurity('device', { insecure: false, bundle: 'b.json', token: 't' }, 'd'), /--token is for --insecure only/);
    assert.throws(() => resolveNodeSecurity('device', { insecure: false, bundle: '/nonexistent/b.json' }, 'd'), /cannot read the bundle \/nonexistent\/b.json: ENOENT/);
  });
});
