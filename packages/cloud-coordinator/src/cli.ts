#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEFAULT_TRIAL, type TrialConfig } from './config.js';
import { serve } from './serve.js';
import { DEFAULT_RATE_LIMITS } from './api/guard.js';
import { listRunsText, showRunText } from './inspect.js';
import { planText } from './plan-command.js';
import { DEFAULT_FAIL_REASON, failRunText } from './fail-run.js';
import { caInitText, caShowText, defaultPkiDir, enrollText, listNodes, nodesText, revokeText } from './node-commands.js';

/** A refusal is an answer, not a crash: one line, no stack, exit code 1. */
function refuseAsText(fn: () => string): void {
  try {
    process.stdout.write(fn() + '\n');
  } catch (err) {
    process.stderr.write(`hsfl-coordinator: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
import { DEFAULT_MAX_EDGES } from './fleet.js';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_LINK_LIMITS, connectLimit } from '@hsfl/tier-engine';

const d = DEFAULT_TRIAL;

// Started by the lab launcher: exit when it goes away (its pipe on stdin closes).
if (process.env.HSFL_LAB_PARENT_PIPE === '1') process.stdin.on('end', () => process.exit(0)).resume();

await yargs(hideBin(process.argv))
  .scriptName('hsfl-coordinator')
  .usage('$0 <command> [options]\n\nThe hsfl cloud coordinator. Every option can also be given as an environment variable HSFL_COORDINATOR_<OPTION> (e.g. HSFL_COORDINATOR_TOKEN, HSFL_COORDINATOR_C1) or in a JSON file given with --config.')
  .env('HSFL_COORDINATOR')
  .config('config', 'JSON file with any of these options')
  .option('db', { type: 'string', default: 'runs/hsfl.sqlite', describe: 'SQLite file of the store' })
  .command(
    ['serve', '$0'],
    'serve edges, the REST API and the dashboard on one port; run a trial at once (--start) or when asked through the API',
    (y) => y
      .option('host', { type: 'string', default: '0.0.0.0', describe: 'address to listen on for edges' })
      .option('port', { type: 'number', default: 7000, describe: 'port to listen on (0: any free port)' })
      .option('insecure', { type: 'boolean', default: false, describe: 'plain http and a shared --token instead of TLS with enrolled nodes (trusted loopback or lab only; logged loudly)' })
      .option('token', { type: 'string', describe: 'join token edges must present (--insecure only)' })
      .option('pki-dir', { type: 'string', describe: 'directory of the project CA and the coordinator\'s certificate (default: pki/ beside --db; created on first start)' })
      .option('san', { type: 'string', array: true, default: [] as string[], describe: 'a further host name or address edges and browsers reach this coordinator by (repeatable)' })
      .option('admin-token', { type: 'string', describe: 'operator token for the API and dashboard with control rights (HSFL_COORDINATOR_ADMIN_TOKEN; generated and printed when absent)' })
      .option('viewer-token', { type: 'string', describe: 'read-only operator token for the API, dashboard and /metrics (HSFL_COORDINATOR_VIEWER_TOKEN; generated and printed when absent)' })
      .option('trusted-proxy', { type: 'string', array: true, default: [] as string[], describe: 'address or CIDR block of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeatable or comma-separated; without it these headers are ignored)' })
      .option('api-rate-limit', { type: 'number', default: DEFAULT_RATE_LIMITS.perMinute, describe: 'API requests per minute per client address (429 beyond)' })
      .option('login-rate-limit', { type: 'number', default: DEFAULT_RATE_LIMITS.loginPerMinute, describe: 'logins per minute per client address (429 beyond)' })
      .option('name', { type: 'string', default: d.name, describe: 'run name' })
      .option('model', { type: 'string', default: d.model, describe: 'model from the zoo (mlp-mnist, cnn-mnist, ...)' })
      .option('c1', { type: 'number', default: d.c1, describe: 'first cut: devices hold units [0, c1)' })
      .option('c2', { type: 'number', default: d.c2, describe: 'second cut: edges hold units [c1, c2), the cloud the rest' })
      .option('i1', { type: 'number', default: d.i1, describe: 'device sub-models are averaged every i1 rounds' })
      .option('i2', { type: 'number', default: d.i2, describe: 'edge sub-models are averaged every i2 rounds' })
      .option('batch-size', { type: 'number', default: d.batchSize, describe: 'samples per device per round' })
      .option('lr', { type: 'number', default: d.lr, describe: 'SGD learning rate' })
      .option('rounds', { type: 'number', default: d.rounds, describe: 'rounds to train' })
      .option('eval-every', { type: 'number', default: d.evalEvery, describe: 'score the assembled model every N rounds (0: only at the end)' })
      .option('seed', { type: 'number', default: d.seed, describe: 'seed of the initial weights' })
      .option('deadline-ms', { type: 'number', default: d.deadlineMs, describe: 'how long a tier waits for its children each phase of a round' })
      .option('codec', { choices: ['raw', 'fp16', 'int8'] as const, default: d.codec, describe: 'encoding of activations and gradients on the wire' })
      .option('min-edges', { type: 'number', default: d.minEdges, describe: 'edges that must join before training starts' })
      .option('min-devices', { type: 'number', default: d.minDevices, describe: 'devices that must join before training starts' })
      .option('join-timeout-ms', { type: 'number', default: d.joinTimeoutMs, describe: 'give up if the fleet has not assembled by then' })
      .option('target-accuracy', { type: 'number', describe: 'stop once the test accuracy reaches this (0-1)' })
      .option('planner', { choices: ['off', 'auto'] as const, default: d.planner, describe: 'auto: the planner picks cuts and intervals after the warm-up and re-plans as the fleet changes' })
      .option('warmup-rounds', { type: 'number', default: d.warmupRounds, describe: 'rounds run with the configured plan before the planner decides' })
      .option('replan-threshold', { type: 'number', default: d.replanThreshold, describe: 're-plan when measured round times drift from the prediction by more than this fraction' })
      .option('start', { type: 'boolean', default: true, describe: 'start a run from these options at once (--no-start: wait for the API)' })
      .option('stay', { type: 'boolean', default: false, describe: 'keep serving after the run ends' })
      .option('resume', { type: 'boolean', default: true, describe: 'resume a run a previous coordinator left running on this store, from its last checkpoint (--no-resume: mark it failed and start afresh)' })
      .option('backend', { choices: ['auto', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const, describe: 'tfjs backend' })
      .option('progress', { choices: ['text', 'jsonl', 'none'] as const, default: 'text' as const, describe: 'progress on stdout' })
      .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
      .option('max-edges', { type: 'number', default: DEFAULT_MAX_EDGES, describe: 'most edges joined at once; one more is refused (limit)' })
      .option('hello-timeout-ms', { type: 'number', default: DEFAULT_HELLO_TIMEOUT_MS, describe: 'close an edge connection that has not joined by then' })
      .option('connect-limit', { type: 'number', default: DEFAULT_LINK_LIMITS.connectBurst, describe: 'connection attempts one address may make per 10 s on the edge port (raise it for many edges behind one NAT address)' })
      .check((a) => {
        if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be a whole number in [0, 65535] (got ${a.port})`);
        for (const [flag, v] of [['--max-edges', a.maxEdges], ['--hello-timeout-ms', a.helloTimeoutMs], ['--connect-limit', a.connectLimit]] as [string, number][]) {
          if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} must be a whole number >= 1 (got ${v})`);
        }
        return true;
      }),
    async (a) => {
      const trial: TrialConfig = {
        name: a.name, model: a.model, c1: a.c1, c2: a.c2, i1: a.i1, i2: a.i2, batchSize: a.batchSize, lr: a.lr,
        rounds: a.rounds, evalEvery: a.evalEvery, seed: a.seed, deadlineMs: a.deadlineMs, codec: a.codec,
        minEdges: a.minEdges, minDevices: a.minDevices, joinTimeoutMs: a.joinTimeoutMs, targetAccuracy: a.targetAccuracy,
        planner: a.planner, warmupRounds: a.warmupRounds, replanThreshold: a.replanThreshold,
      };
      process.exitCode = await serve({
        host: a.host, port: a.port, token: a.token, insecure: a.insecure, pkiDir: a.pkiDir ?? defaultPkiDir(a.db), san: a.san.map(String),
        db: a.db, backend: a.backend, progress: a.progress, logLevel: a.logLevel, start: a.start, stay: a.stay, resume: a.resume,
        trial, adminToken: a.adminToken, viewerToken: a.viewerToken,
        trustedProxy: a.trustedProxy.flatMap((p) => String(p).split(',')).map((p) => p.trim()).filter(Boolean), rateLimit: { perMinute: a.apiRateLimit, loginPerMinute: a.loginRateLimit },
        maxEdges: a.maxEdges, helloTimeoutMs: a.helloTimeoutMs, linkLimits: connectLimit(a.connectLimit),
      });
    },
  )
  .command('plan', 'print the plan the planner chooses, its predicted time breakdown and the runners-up', (y) => y
    .option('run', { type: 'string', describe: 'plan from the capacity stored for this run' })
    .option('topology', { type: 'string', describe: 'plan from a JSON topology description (see docs/planner.md)' })
    .option('oracle', { type: 'boolean', default: false, describe: 'also run the exhaustive search and show the gap' })
    .option('min-c1', { type: 'number', default: 1, describe: 'smallest c1 (1 keeps raw data on the devices)' })
    .option('i-max', { type: 'number', default: 20, describe: 'largest aggregation interval considered' }), (a) => {
    process.stdout.write(planText({ db: a.db, run: a.run, topology: a.topology, oracle: a.oracle, minC1: a.minC1, iMax: a.iMax }) + '\n');
  })
  .command('runs', 'list the runs in the store', (y) => y, (a) => {
    process.stdout.write(listRunsText(a.db) + '\n');
  })
  .command('show <run>', 'show a run: its plan, metrics and events', (y) => y.positional('run', { type: 'string', demandOption: true }), (a) => {
    process.stdout.write(showRunText(a.db, a.run) + '\n');
  })
  .command(
    'fail <run>',
    'mark a run failed that a coordinator left running or paused (it crashed or was killed) and that will not be resumed; do not use it on a run a live coordinator is driving',
    (y) => y
      .positional('run', { type: 'string', demandOption: true })
      .option('reason', { type: 'string', default: DEFAULT_FAIL_REASON, describe: 'stored as the run\'s error' }),
    (a) => {
      try {
        process.stdout.write(failRunText(a.db, a.run, a.reason) + '\n');
      } catch (err) {
        // A refusal is an answer, not a crash: one line, no stack, exit code 1.
        process.stderr.write(`hsfl-coordinator: ${(err as Error).message}\n`);
        process.exitCode = 1;
      }
    },
  )
  .command('ca <action>', 'the project CA: init creates it (the coordinator also does on first start), show prints its fingerprint', (y) => y
    .positional('action', { choices: ['init', 'show'] as const, demandOption: true })
    .option('pki-dir', { type: 'string', describe: 'directory of the project CA (default: pki/ beside --db)' }), (a) => {
    refuseAsText(() => (a.action === 'init' ? caInitText : caShowText)(a.pkiDir ?? defaultPkiDir(a.db)));
  })
  .command('enroll', 'enroll a node and write its one-file bundle (its id, the CA to pin, its certificate and key)', (y) => y
    .option('role', { choices: ['device', 'edge'] as const, demandOption: true })
    .option('id', { type: 'string', demandOption: true, describe: 'the node\'s id, unique across roles' })
    .option('edge', { type: 'string', describe: 'a device\'s edge: it may join that edge only' })
    .option('parent-url', { type: 'string', describe: 'where the node connects, https://... (its edge, or the coordinator for an edge); written into the bundle' })
    .option('host', { type: 'string', array: true, default: [] as string[], describe: 'an edge\'s host name or address, written into its server certificate (repeatable)' })
    .option('renew', { type: 'boolean', default: false, describe: 'issue a new credential for an enrolled or revoked node; its earlier ones stop working at once' })
    .option('valid-days', { type: 'number', default: 365, describe: 'validity of the certificate' })
    .option('out', { type: 'string', describe: 'bundle file to write (default: <id>.hsfl.json), created readable by you only' })
    .option('pki-dir', { type: 'string', describe: 'directory of the project CA (default: pki/ beside --db)' }), (a) => {
    refuseAsText(() => enrollText({
      db: a.db, pkiDir: a.pkiDir ?? defaultPkiDir(a.db), out: a.out, by: 'hsfl-coordinator enroll',
      role: a.role, id: a.id, edge: a.edge, parentUrl: a.parentUrl, hosts: a.host.map(String), renew: a.renew, validDays: a.validDays,
    }));
  })
  .command('revoke <id>', 'revoke a node: its credentials stop working, a running coordinator disconnects it within a second, and it cannot rejoin', (y) => y
    .positional('id', { type: 'string', demandOption: true })
    .option('reason', { type: 'string', default: '', describe: 'stored with the revocation' }), (a) => {
    refuseAsText(() => revokeText(a.db, a.id, a.reason, 'hsfl-coordinator revoke'));
  })
  .command('nodes', 'list enrolled nodes: connected, enrolled or revoked', (y) => y
    .option('json', { type: 'boolean', default: false }), (a) => {
    refuseAsText(() => (a.json ? JSON.stringify(listNodes(a.db), null, 2) : nodesText(a.db)));
  })
  .demandCommand(0)
  .strict()
  .fail((msg, err, y) => {
    process.stderr.write(`hsfl-coordinator: ${msg ?? err?.message}\n\n`);
    if (msg) y.showHelp();
    process.exit(1);
  })
  .help()
  .parseAsync();
