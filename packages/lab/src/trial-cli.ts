#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { dirname, resolve, join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_TRIAL, trialProblems, type TrialConfig } from '@hsfl/cloud-coordinator';
import { LocalFederation } from './federation.js';
import type { ProgressLine } from './process.js';

const d = DEFAULT_TRIAL;
const argv = yargs(hideBin(process.argv))
  .scriptName('hsfl-trial')
  .usage('$0 [options]\n\nA local hsfl trial: a coordinator, edge aggregators and devices, each its own process on loopback, training an MNIST model with a split plan.\nOptions can also come from HSFL_TRIAL_<OPTION> environment variables or a JSON --config file.')
  .env('HSFL_TRIAL')
  .config('config', 'JSON file with any of these options')
  .option('edges', { type: 'number', default: 2, describe: 'edge aggregators' })
  .option('devices-per-edge', { type: 'number', default: 2, describe: 'devices under each edge' })
  .option('model', { type: 'string', default: d.model })
  .option('c1', { type: 'number', default: d.c1, describe: 'devices hold units [0, c1)' })
  .option('c2', { type: 'number', default: d.c2, describe: 'edges hold units [c1, c2)' })
  .option('i1', { type: 'number', default: d.i1, describe: 'device aggregation interval (rounds)' })
  .option('i2', { type: 'number', default: d.i2, describe: 'edge aggregation interval (rounds)' })
  .option('batch-size', { type: 'number', default: d.batchSize })
  .option('lr', { type: 'number', default: d.lr })
  .option('rounds', { type: 'number', default: d.rounds })
  .option('eval-every', { type: 'number', default: d.evalEvery })
  .option('seed', { type: 'number', default: d.seed })
  .option('planner', { choices: ['off', 'auto'] as const, default: 'auto' as const, describe: 'auto: the planner picks cuts and intervals from measured capacity after the warm-up' })
  .option('warmup-rounds', { type: 'number', default: d.warmupRounds })
  .option('target-accuracy', { type: 'number', describe: 'stop once the test accuracy reaches this (0-1)' })
  .option('partition', { choices: ['iid', 'dirichlet'] as const, default: 'dirichlet' as const })
  .option('alpha', { type: 'number', default: 0.5, describe: 'Dirichlet concentration (non-IID skew)' })
  .option('data-dir', { type: 'string', describe: 'devices train from this data on disk (each its shard) instead of the MNIST digits: a folder of class sub-folders, a .csv file or a folder with x.npy/y.npy; needs --data-declaration' })
  .option('data-declaration', { type: 'string', describe: 'JSON data declaration that --data-dir is read with (docs/data-and-models.md)' })
  .option('db', { type: 'string', default: 'runs/hsfl.sqlite', describe: 'SQLite store of the coordinator' })
  .option('logs', { type: 'string', describe: 'folder for the processes\' logs (default: runs/logs/<time>)' })
  .option('backend', { choices: ['auto', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const })
  .option('port', { type: 'number', default: 0, describe: 'port of the coordinator and its dashboard (0: any free port)' })
  .option('insecure', { type: 'boolean', default: false, describe: 'plain http with a shared token on loopback instead of TLS with enrolled nodes' })
  .option('stay', { type: 'boolean', default: false, describe: 'keep the coordinator and its dashboard running after the run (Ctrl-C to quit)' })
  .option('admin-token', { type: 'string', describe: 'dashboard/API admin token (HSFL_TRIAL_ADMIN_TOKEN; generated when absent)' })
  .check((a) => {
    for (const k of ['edges', 'devicesPerEdge'] as const) if (!Number.isInteger(Number(a[k])) || Number(a[k]) < 1 || Number(a[k]) > 64) throw new Error(`--${k} must be a whole number in [1, 64]`);
    if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be a whole number in [0, 65535] (got ${a.port})`);
    if ((a.dataDir === undefined) !== (a.dataDeclaration === undefined)) throw new Error('--data-dir and --data-declaration go together');
    return true;
  })
  .strict()
  .help()
  .parseSync();

const trial: TrialConfig = {
  ...d, name: 'local-trial', model: argv.model, c1: argv.c1, c2: argv.c2, i1: argv.i1, i2: argv.i2, batchSize: argv.batchSize,
  lr: argv.lr, rounds: argv.rounds, evalEvery: argv.evalEvery, seed: argv.seed, targetAccuracy: argv.targetAccuracy,
  planner: argv.planner, warmupRounds: argv.warmupRounds,
};
const problems = trialProblems(trial);
if (problems.length) {
  process.stderr.write(`hsfl-trial: bad options:\n  - ${problems.join('\n  - ')}\n`);
  process.exit(1);
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const logDir = resolve(argv.logs ?? join('runs', 'logs', stamp));
const fed = new LocalFederation({
  trial, edges: argv.edges, devicesPerEdge: argv.devicesPerEdge, partition: argv.partition, alpha: argv.alpha, dataSeed: argv.seed,
  token: randomBytes(12).toString('hex'), security: argv.insecure ? 'insecure' : 'tls', db: resolve(argv.db), logDir, backend: argv.backend,
  port: argv.port, stay: argv.stay,
  deviceData: argv.dataDir !== undefined ? { dir: resolve(argv.dataDir), declaration: resolve(argv.dataDeclaration!) } : undefined, adminToken: argv.adminToken || randomBytes(16).toString('hex'), viewerToken: randomBytes(16).toString('hex'),
});

const pct = (x: unknown) => (typeof x === 'number' ? `${(x * 100).toFixed(2)}%` : '-');
const started = Date.now();
let lastLine = 0;
let lastFleet = '';
let finished = false;
/** A device exited on its own (bad data or flags): the trial is being stopped. */
let aborted = false;

function show(m: ProgressLine): void {
  if (finished) return;
  if (m.type === 'done') finished = true;
  if (m.type === 'listening') {
    process.stdout.write(`coordinator up: run ${m.runId}, backend ${m.backend}\n`);
    process.stdout.write(m.tls ? `links: TLS; the trial enrolled its nodes under the project CA in ${m.pkiDir}\n` : 'links: INSECURE plain http on loopback (--insecure)\n');
  } else if (m.type === 'topology') {
    const edges = m.edges as { id: string; devices: { id: string }[] }[];
    const fleet = edges.map((e) => `${e.id} <- ${e.devices.length} devices`).join(', ');
    if (fleet !== lastFleet) process.stdout.write(`fleet: ${fleet || '(no edges)'}\n`);
    lastFleet = fleet;
  } else if (m.type === 'event') {
    process.stdout.write(`warning: ${m.message}\n`);
  } else if (m.type === 'plan') {
    const p = m.plan as Record<string, number>;
    if (p.version > 1) process.stdout.write(`planner: now cuts (${p.c1}, ${p.c2}), intervals (${p.i1}, ${p.i2}) (plan v${p.version})\n`);
  } else if (m.type === 'round') {
    const r = Number(m.round) + 1;
    const hasTest = m.testAccuracy !== undefined;
    if (!hasTest && Date.now() - lastLine < 5000) return;
    lastLine = Date.now();
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    process.stdout.write(`round ${String(r).padStart(4)}/${m.rounds}  loss ${Number(m.loss).toFixed(4)}  train ${pct(m.trainAccuracy)}${hasTest ? `  test ${pct(m.testAccuracy)}` : ''}  ${Number(m.roundMs).toFixed(0)} ms/round  ${secs}s\n`);
  }
}

async function main(): Promise<void> {
  process.stdout.write(`hsfl local trial: 1 coordinator, ${argv.edges} edges, ${argv.edges * argv.devicesPerEdge} devices (${argv.partition}${argv.partition === 'dirichlet' ? `, alpha ${argv.alpha}` : ''}); logs in ${logDir}\n`);
  if (argv.dataDir !== undefined) process.stdout.write(`device data: each device its shard of ${resolve(argv.dataDir)} as declared in ${resolve(argv.dataDeclaration!)}\n`);
  const stop = async () => {
    process.stdout.write('\ninterrupted: stopping every process\n');
    await fed.stop();
    process.exit(130);
  };
  process.on('SIGINT', () => void stop());
  await fed.start();
  // A device that refuses its data (or its flags) exits at once: say why instead of waiting for the join timeout.
  for (const [id, proc] of fed.devices) {
    void proc.exited.then(async (code) => {
      if (code === 0 || code === null || finished) return;
      const why = proc.stderr().split('\n').reverse().find((l) => l.startsWith('hsfl-device:')) ?? `exit code ${code}`;
      process.stderr.write(`hsfl-trial: ${id} stopped: ${why}\n`);
      finished = true;
      aborted = true;
      await fed.stop();
      process.exit(1);
    });
  }
  if (fed.dashboard) {
    process.stdout.write([
      `dashboard: ${fed.dashboard.url}${fed.secure ? `  (TLS under the trial's own CA: trust ${join(dirname(resolve(argv.db)), 'pki', 'ca.crt')} in your browser, or accept its warning)` : ''}`,
      `  admin token:  ${fed.dashboard.adminToken}   (log in with it to steer the run)`,
      `  viewer token: ${fed.dashboard.viewerToken}   (read-only)`,
      '',
    ].join('\n'));
  }
  fed.onProgress(show);
  const done = await fed.waitDone(6 * 3600 * 1000);
  if (aborted) return; // the device watch above reports and exits
  const p = done.plan as Record<string, number | string>;
  process.stdout.write([
    '',
    `finished: ${done.status} after ${done.rounds} rounds in ${(done.wallMs / 1000).toFixed(1)} s`,
    `test accuracy: ${pct(done.testAccuracy)} (loss ${done.testLoss.toFixed(4)}) on the held-out digits`,
    `plan: model ${p.model}, devices hold units [0, ${p.c1}), edges [${p.c1}, ${p.c2}), cloud the rest; device FedAvg every ${p.i1} rounds, edge FedAvg every ${p.i2}; batch ${p.batchSize}, lr ${p.lr}`,
    `stored: run ${done.runId} in ${done.dbPath}`,
    `inspect: npx hsfl-coordinator show ${done.runId} --db ${done.dbPath}`,
    '',
  ].join('\n'));
  if (argv.stay && fed.dashboard) {
    process.stdout.write(`the dashboard stays up at ${fed.dashboard.url} (admin token ${fed.dashboard.adminToken}); press Ctrl-C to quit\n`);
    await new Promise<void>(() => undefined);
  }
  await fed.stop();
}

main().catch(async (err) => {
  process.stderr.write(`hsfl-trial: ${err instanceof Error ? err.message : String(err)}\n`);
  await fed.stop();
  process.exit(1);
});
