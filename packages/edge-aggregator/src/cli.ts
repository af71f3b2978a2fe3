#!/usr/bin/env node
import { hostname } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_LINK_LIMITS, connectLimit, exitOnSignals, resolveNodeSecurity, type NodeSecurity } from '@hsfl/tier-engine';
import { checkNodeId } from '@hsfl/protocol';
import { initBackend } from '@hsfl/runtime';
import { EdgeAggregator } from './edge.js';
import { createLogger } from './log.js';

const argv = yargs(hideBin(process.argv))
  .scriptName('hsfl-edge')
  .usage('$0 [options]\n\nThe hsfl edge aggregator: serves its devices, trains the middle layers, and talks to the cloud coordinator.\nEvery option can also be given as an environment variable HSFL_EDGE_<OPTION> (e.g. HSFL_EDGE_BUNDLE, HSFL_EDGE_CLOUD) or in a JSON file given with --config.')
  .env('HSFL_EDGE')
  .config('config', 'JSON file with any of these options')
  .option('bundle', { type: 'string', describe: 'this edge\'s enrollment bundle (hsfl-coordinator enroll --role edge): TLS both ways, its id and credential' })
  .option('cloud', { type: 'string', describe: 'address of the cloud coordinator, e.g. https://10.0.0.1:7000 (default: the bundle\'s)' })
  .option('insecure', { type: 'boolean', default: false, describe: 'plain http with shared tokens instead of a bundle (trusted networks only; logged loudly)' })
  .option('token', { type: 'string', describe: 'join token the cloud expects (--insecure only)' })
  .option('device-token', { type: 'string', describe: 'join token devices must present (--insecure only; default: --token)' })
  .option('id', { type: 'string', describe: 'this edge\'s id (default: the bundle\'s; insecure: edge-<hostname>)' })
  .option('host', { type: 'string', default: '0.0.0.0', describe: 'address to listen on for devices' })
  .option('port', { type: 'number', default: 7100, describe: 'port to listen on for devices (0: any free port)' })
  .option('backend', { choices: ['auto', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const, describe: 'tfjs backend' })
  .option('progress', { choices: ['text', 'jsonl', 'none'] as const, default: 'text' as const, describe: 'progress on stdout' })
  .option('exit-after-run', { type: 'boolean', default: false, describe: 'exit when the run ends instead of waiting for the next one' })
  .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
  .option('hello-timeout-ms', { type: 'number', default: DEFAULT_HELLO_TIMEOUT_MS, describe: 'close a device connection that has not joined by then' })
  .option('connect-limit', { type: 'number', default: DEFAULT_LINK_LIMITS.connectBurst, describe: 'connection attempts one address may make per 10 s on the device port (raise it for many devices behind one NAT address)' })
  .check((a) => {
    for (const [flag, v] of [['--hello-timeout-ms', a.helloTimeoutMs], ['--connect-limit', a.connectLimit]] as [string, number][]) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} must be a whole number >= 1 (got ${v})`);
    }
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be a whole number in [0, 65535] (got ${a.port})`);
    if (a.id !== undefined) checkNodeId(a.id, '--id'); // also refuses the coordinator's reserved id
    if (a.deviceToken !== undefined && !a.insecure) throw new Error('--device-token is for --insecure only');
    return true;
  })
  .strict()
  .help()
  .parseSync();

const log = createLogger('hsfl-edge', argv.logLevel);
let security: NodeSecurity;
try {
  security = resolveNodeSecurity('edge', { bundle: argv.bundle, insecure: argv.insecure, token: argv.token, url: argv.cloud, id: argv.id }, `edge-${hostname()}`);
} catch (err) {
  process.stderr.write(`hsfl-edge: ${(err as Error).message}\n`);
  process.exit(1);
}
for (const w of security.warnings) log.warn({}, w);
const edgeId = security.id;

// Started by the lab launcher: exit when it goes away (its pipe on stdin closes).
if (process.env.HSFL_LAB_PARENT_PIPE === '1') process.stdin.on('end', () => process.exit(0)).resume();

async function main(): Promise<void> {
  const backend = await initBackend({ preferred: argv.backend });
  log.info({ backend }, 'backend ready');
  const edge = new EdgeAggregator({
    id: edgeId, cloudUrl: security.url, token: security.token, deviceToken: argv.deviceToken ?? security.token, bundle: security.bundle,
    bindHost: argv.host, port: argv.port, backend: backend.name, host: hostname(), log,
    helloTimeoutMs: argv.helloTimeoutMs, linkLimits: connectLimit(argv.connectLimit),
  });
  const port = await edge.start();
  if (argv.progress === 'jsonl') process.stdout.write(JSON.stringify({ type: 'listening', id: edgeId, port }) + '\n');
  else if (argv.progress === 'text') process.stdout.write(`hsfl-edge ${edgeId}: devices connect to port ${port}\n`);
  exitOnSignals(edge, log);
  edge.on('runEnd', (reason: string) => {
    if (argv.progress === 'jsonl') process.stdout.write(JSON.stringify({ type: 'runEnd', id: edgeId, reason }) + '\n');
    // Let the run-end notice reach the devices before the sockets close.
    if (argv.exitAfterRun) setTimeout(() => void edge.stop().then(() => process.exit(0)), 300);
  });
}

main().catch((err) => {
  log.error({ err: String(err), stack: (err as Error).stack }, 'edge failed');
  process.stderr.write(`hsfl-edge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
