#!/usr/bin/env node
import { hostname } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_LINK_LIMITS, connectLimit, exitOnSignals } from '@hsfl/tier-engine';
import { checkNodeId } from '@hsfl/protocol';
import { initBackend } from '@hsfl/runtime';
import { EdgeAggregator } from './edge.js';
import { createLogger } from './log.js';

const argv = yargs(hideBin(process.argv))
  .scriptName('hsfl-edge')
  .usage('$0 [options]\n\nThe hsfl edge aggregator: serves its devices, trains the middle layers, and talks to the cloud coordinator.\nEvery option can also be given as an environment variable HSFL_EDGE_<OPTION> (e.g. HSFL_EDGE_CLOUD, HSFL_EDGE_TOKEN) or in a JSON file given with --config.')
  .env('HSFL_EDGE')
  .config('config', 'JSON file with any of these options')
  .option('cloud', { type: 'string', demandOption: true, describe: 'address of the cloud coordinator, e.g. http://10.0.0.1:7000' })
  .option('token', { type: 'string', demandOption: true, describe: 'join token the cloud expects' })
  .option('device-token', { type: 'string', describe: 'join token devices must present (default: --token)' })
  .option('id', { type: 'string', default: `edge-${hostname()}`, describe: 'this edge\'s id' })
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
    if (!/^https?:\/\/[^\s]+$/.test(a.cloud)) throw new Error(`--cloud must be an http(s) address such as http://127.0.0.1:7000 (got ${a.cloud})`);
    checkNodeId(a.id, '--id'); // also refuses the coordinator's reserved id
    return true;
  })
  .strict()
  .help()
  .parseSync();

const log = createLogger('hsfl-edge', argv.logLevel);

// Started by the lab launcher: exit when it goes away (its pipe on stdin closes).
if (process.env.HSFL_LAB_PARENT_PIPE === '1') process.stdin.on('end', () => process.exit(0)).resume();

async function main(): Promise<void> {
  const backend = await initBackend({ preferred: argv.backend });
  log.info({ backend }, 'backend ready');
  const edge = new EdgeAggregator({
    id: argv.id, cloudUrl: argv.cloud, token: argv.token, deviceToken: argv.deviceToken ?? argv.token,
    bindHost: argv.host, port: argv.port, backend: backend.name, host: hostname(), log,
    helloTimeoutMs: argv.helloTimeoutMs, linkLimits: connectLimit(argv.connectLimit),
  });
  const port = await edge.start();
  if (argv.progress === 'jsonl') process.stdout.write(JSON.stringify({ type: 'listening', id: argv.id, port }) + '\n');
  else if (argv.progress === 'text') process.stdout.write(`hsfl-edge ${argv.id}: devices connect to port ${port}\n`);
  exitOnSignals(edge, log);
  edge.on('runEnd', (reason: string) => {
    if (argv.progress === 'jsonl') process.stdout.write(JSON.stringify({ type: 'runEnd', id: argv.id, reason }) + '\n');
    // Let the run-end notice reach the devices before the sockets close.
    if (argv.exitAfterRun) setTimeout(() => void edge.stop().then(() => process.exit(0)), 300);
  });
}

main().catch((err) => {
  log.error({ err: String(err), stack: (err as Error).stack }, 'edge failed');
  process.stderr.write(`hsfl-edge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
