#!/usr/bin/env node
import { hostname } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exitOnSignals, resolveNodeSecurity, type NodeSecurity } from '@hsfl/tier-engine';
import { checkNodeId } from '@hsfl/protocol';
import { initBackend, loadMnist, partition } from '@hsfl/runtime';
import { DeviceAgent } from './agent.js';
import { createLogger } from './log.js';

const argv = yargs(hideBin(process.argv))
  .scriptName('hsfl-device')
  .usage('$0 [options]\n\nThe hsfl device agent: trains the bottom layers of the model on this machine\'s data, in step with its edge aggregator.\nEvery option can also be given as an environment variable HSFL_DEVICE_<OPTION> (e.g. HSFL_DEVICE_BUNDLE, HSFL_DEVICE_EDGE) or in a JSON file given with --config.')
  .env('HSFL_DEVICE')
  .config('config', 'JSON file with any of these options')
  .option('bundle', { type: 'string', describe: 'this device\'s enrollment bundle (hsfl-coordinator enroll --role device): TLS, its id and credential' })
  .option('edge', { type: 'string', describe: 'address of the edge aggregator, e.g. https://10.0.0.2:7100 (default: the bundle\'s)' })
  .option('insecure', { type: 'boolean', default: false, describe: 'plain http with a shared --token instead of a bundle (trusted networks only; logged loudly)' })
  .option('token', { type: 'string', describe: 'join token the edge expects (--insecure only)' })
  .option('id', { type: 'string', describe: 'this device\'s id (default: the bundle\'s; insecure: <hostname>-<pid>)' })
  .option('data', { choices: ['mnist'] as const, default: 'mnist' as const, describe: 'local data set' })
  .option('shard', { type: 'number', default: 0, describe: 'which part of the data set this device owns (0-based)' })
  .option('shards', { type: 'number', default: 1, describe: 'how many devices share the data set' })
  .option('partition', { choices: ['iid', 'dirichlet'] as const, default: 'iid' as const, describe: 'how the data set is split across devices' })
  .option('alpha', { type: 'number', default: 0.5, describe: 'Dirichlet concentration for --partition dirichlet (smaller: more skewed)' })
  .option('data-seed', { type: 'number', default: 1, describe: 'seed of the partition (the same on every device)' })
  .option('backend', { choices: ['auto', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const, describe: 'tfjs backend' })
  .option('progress', { choices: ['text', 'jsonl', 'none'] as const, default: 'text' as const, describe: 'progress on stdout' })
  .option('exit-after-run', { type: 'boolean', default: false, describe: 'exit when the run ends instead of waiting for the next one' })
  .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
  .check((a) => {
    if (!Number.isInteger(a.shards) || a.shards < 1) throw new Error(`--shards must be a whole number >= 1 (got ${a.shards})`);
    if (!Number.isInteger(a.shard) || a.shard < 0 || a.shard >= a.shards) throw new Error(`--shard must be a whole number in [0, ${a.shards}) (got ${a.shard})`);
    if (!(a.alpha > 0)) throw new Error(`--alpha must be > 0 (got ${a.alpha})`);
    if (a.id !== undefined) checkNodeId(a.id, '--id'); // also refuses the coordinator's reserved id
    return true;
  })
  .strict()
  .help()
  .parseSync();

const log = createLogger('hsfl-device', argv.logLevel);
let security: NodeSecurity;
try {
  security = resolveNodeSecurity('device', { bundle: argv.bundle, insecure: argv.insecure, token: argv.token, url: argv.edge, id: argv.id }, `${hostname()}-${process.pid}`);
} catch (err) {
  process.stderr.write(`hsfl-device: ${(err as Error).message}\n`);
  process.exit(1);
}
for (const w of security.warnings) log.warn({}, w);
const nodeId = security.id;

// Started by the lab launcher: exit when it goes away (its pipe on stdin closes).
if (process.env.HSFL_LAB_PARENT_PIPE === '1') process.stdin.on('end', () => process.exit(0)).resume();

function progress(kind: string, detail: Record<string, unknown>): void {
  if (argv.progress === 'jsonl') process.stdout.write(JSON.stringify({ type: kind, id: nodeId, ...detail }) + '\n');
  else if (argv.progress === 'text' && kind !== 'round') process.stdout.write(`[${nodeId}] ${kind} ${JSON.stringify(detail)}\n`);
}

async function main(): Promise<void> {
  const backend = await initBackend({ preferred: argv.backend });
  log.info({ backend }, 'backend ready');
  const { train } = loadMnist();
  const shards = partition(train.y, argv.shards, { kind: argv.partition, alpha: argv.alpha, seed: argv.dataSeed });
  const indices = shards[argv.shard]!;
  log.info({ shard: argv.shard, shards: argv.shards, samples: indices.length, partition: argv.partition }, 'local data ready');
  const agent = new DeviceAgent({
    id: nodeId, edgeUrl: security.url, token: security.token, bundle: security.bundle, backend: backend.name, host: hostname(),
    data: train, indices, seed: argv.dataSeed * 7919 + argv.shard, log, onEvent: progress,
  });
  exitOnSignals(agent, log);
  agent.on('runEnd', (reason: string) => {
    progress('finished', { reason, rounds: agent.roundsTrained });
    if (argv.exitAfterRun) void agent.stop().then(() => process.exit(0));
  });
  agent.start();
}

main().catch((err) => {
  log.error({ err: String(err), stack: (err as Error).stack }, 'device failed');
  process.stderr.write(`hsfl-device: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
