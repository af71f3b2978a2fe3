#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exitOnSignals, resolveNodeSecurity, type NodeSecurity } from '@hsfl/tier-engine';
import { checkNodeId } from '@hsfl/protocol';
import { DataError, initBackend, loadMnist, openLocalDataset, partition, summarizeSkips, type StreamingDataset } from '@hsfl/runtime';
import { DeviceAgent, memoryBatchSource, streamingBatchSource, type BatchSource } from './agent.js';
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
  .option('data', { choices: ['mnist'] as const, describe: 'built-in data set (default: mnist, the `mnist` package\'s training digits), unless --data-dir is given' })
  .option('data-dir', { type: 'string', describe: 'this device\'s own data on disk: a folder of class sub-folders (image), a .csv file (csv), or a folder holding x.npy and y.npy (npy); needs --data-declaration' })
  .option('data-declaration', { type: 'string', describe: 'JSON file with the data declaration (kind image|csv|npy, inputShape, classNames, preprocessing) that --data-dir is read with' })
  .option('data-ignore-unknown-folders', { type: 'boolean', default: false, describe: 'image folders: ignore (and log) sub-folders that are not declared classes instead of refusing the data' })
  .option('shard', { type: 'number', default: 0, describe: 'which part of the data set this device owns (0-based)' })
  .option('shards', { type: 'number', default: 1, describe: 'how many devices share the data set (with --data-dir: default 1, all of it)' })
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
    if (a.dataDir !== undefined && a.data !== undefined) throw new Error('give either --data mnist or --data-dir, not both');
    if (a.dataDir === '') throw new Error('--data-dir must name a folder or file');
    if ((a.dataDir === undefined) !== (a.dataDeclaration === undefined)) {
      throw new Error(a.dataDir === undefined ? '--data-declaration needs --data-dir (where the data is)' : '--data-dir needs --data-declaration (the JSON file saying how to read it)');
    }
    return true;
  })
  .strict()
  .showHelpOnFail(false, 'run hsfl-device --help for the options')
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

/** Refuses the device's data with one line on stderr, before it joins anything. */
class BadData extends Error {}

/** One line, whatever the underlying message (a declaration's problems come as a list). */
const oneLine = (s: string): string => s.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');

function readDeclaration(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BadData(`cannot read --data-declaration ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadData(`--data-declaration ${file} is not JSON: ${(err as Error).message}`);
  }
}

/** The shard this device owns of `labels` (all of them with one shard). */
function myShard(labels: Int32Array): Int32Array {
  if (argv.shards === 1) return Int32Array.from({ length: labels.length }, (_, i) => i);
  try {
    return partition(labels, argv.shards, { kind: argv.partition, alpha: argv.alpha, seed: argv.dataSeed })[argv.shard]!;
  } catch (err) {
    throw new BadData(`cannot split ${labels.length} samples into --shards ${argv.shards}: ${(err as Error).message}`);
  }
}

/** Opens --data-dir as declared, logs what it holds, and returns this device's batches of it. */
async function openOwnData(dir: string, declarationFile: string, seed: number): Promise<{ source: BatchSource; dataset: StreamingDataset }> {
  const declaration = readDeclaration(declarationFile);
  let dataset: StreamingDataset;
  try {
    dataset = await openLocalDataset(declaration, dir, { ignoreUnknownFolders: argv.dataIgnoreUnknownFolders });
  } catch (err) {
    if (err instanceof DataError) {
      const hint = err.code === 'unknown-class' ? err.message.replace(/or allow ignoring unknown folders$/, 'or pass --data-ignore-unknown-folders') : err.message;
      throw new BadData(`cannot use --data-dir ${dir} (${err.code}): ${oneLine(hint)}`);
    }
    throw err;
  }
  const r = dataset.report;
  if (r.ignoredFolders.length > 0) log.warn({ folders: r.ignoredFolders }, `local data: ignoring ${r.ignoredFolders.length} folder(s) that are not declared classes`);
  if (r.skippedCount > 0) log.warn({ skipped: r.skippedCount, byReason: r.skippedByReason, location: r.location }, `local data: ${summarizeSkips(r)}; training on the rest`);
  const indices = myShard(dataset.labels);
  const counts = dataset.classCounts(indices);
  const samples = counts.reduce((a, b) => a + b, 0);
  if (samples === 0) throw new BadData(`no usable sample in shard ${argv.shard} of ${argv.shards} of --data-dir ${dir}`);
  const perClass = Object.fromEntries(dataset.classNames.map((c, i) => [c, counts[i]!]));
  log.info({ kind: r.kind, shard: argv.shard, shards: argv.shards, samples, perClass, skipped: r.skippedCount, sampleShape: dataset.sampleShape }, 'local data ready');
  progress('data', { kind: r.kind, samples, perClass, skipped: r.skippedCount });
  return { source: streamingBatchSource(dataset, { seed, indices: argv.shards === 1 ? undefined : indices }), dataset };
}

/** Warns (at most once a minute) when files that passed the listing check fail to decode during training. */
function watchSkips(dataset: StreamingDataset): () => void {
  let logged = dataset.report.skippedCount;
  let at = 0;
  return () => {
    const r = dataset.report;
  if (r.ignoredFolders.length > 0) log.warn({ folders: r.ignoredFolders }, `local data: ignoring ${r.ignoredFolders.length} folder(s) that are not declared classes`);
    if (r.skippedCount === logged || Date.now() - at < 60_000) return;
    log.warn({ skipped: r.skippedCount, newly: r.skippedCount - logged, byReason: r.skippedByReason }, `local data: ${r.skippedCount - logged} more files failed to decode during training (${summarizeSkips(r)})`);
    logged = r.skippedCount;
    at = Date.now();
  };
}

async function main(): Promise<void> {
  const seed = argv.dataSeed * 7919 + argv.shard;
  let source: BatchSource;
  let onRound = (): void => undefined;
  if (argv.dataDir !== undefined) {
    const own = await openOwnData(argv.dataDir, argv.dataDeclaration!, seed);
    source = own.source;
    onRound = watchSkips(own.dataset);
  }
  const backend = await initBackend({ preferred: argv.backend });
  log.info({ backend }, 'backend ready');
  if (argv.dataDir === undefined) {
    const { train } = loadMnist();
    const indices = partition(train.y, argv.shards, { kind: argv.partition, alpha: argv.alpha, seed: argv.dataSeed })[argv.shard]!;
    log.info({ shard: argv.shard, shards: argv.shards, samples: indices.length, partition: argv.partition }, 'local data ready');
    source = memoryBatchSource(train, indices, seed);
  }
  const agent = new DeviceAgent({
    id: nodeId, edgeUrl: security.url, token: security.token, bundle: security.bundle, backend: backend.name, host: hostname(),
    source: source!, seed, log, onEvent: (kind, detail) => {
      if (kind === 'round') onRound();
      progress(kind, detail);
    },
  });
  exitOnSignals(agent, log);
  agent.on('dataError', (err: unknown) => {
    process.stderr.write(`hsfl-device: training data failed: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
    void agent.stop().finally(() => process.exit(1));
  });
  agent.on('runEnd', (reason: string) => {
    progress('finished', { reason, rounds: agent.roundsTrained });
    if (argv.exitAfterRun) void agent.stop().then(() => process.exit(0));
  });
  agent.start();
}

main().catch((err) => {
  if (err instanceof BadData) {
    process.stderr.write(`hsfl-device: ${err.message}\n`);
    process.exit(1);
  }
  log.error({ err: String(err), stack: (err as Error).stack }, 'device failed');
  process.stderr.write(`hsfl-device: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
