// `npm run bench`: every benchmark in turn. Each prints its table and writes
// its figures as JSON under bench-results/ (git ignores it). Every figure is
// a ratio against a baseline measured in the same run (DESIGN.md section 8).
// Pass names to run a subset: npm run bench -- codec federation
import { pathToFileURL } from 'node:url';

const ALL = ['codec', 'runtime-kernels', 'federation', 'planner'] as const;

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(ALL as readonly string[]).includes(w));
if (unknown.length) {
  console.error(`unknown bench ${unknown.join(', ')}; choose from ${ALL.join(', ')}`);
  process.exit(1);
}
const chosen = wanted.length ? wanted : [...ALL];
const failures: string[] = [];
for (const name of chosen) {
  console.log(`\n=== bench: ${name} ===`);
  const t0 = Date.now();
  try {
    const mod = (await import(pathToFileURL(new URL(`./${name}.js`, import.meta.url).pathname).href)) as { run: () => Promise<unknown> };
    await mod.run();
    console.log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } catch (err) {
    failures.push(name);
    console.error(`bench ${name} failed: ${err instanceof Error ? err.stack : String(err)}`);
  }
}
if (failures.length) {
  console.error(`\nfailed: ${failures.join(', ')}`);
  process.exit(1);
}
process.exit(0);
