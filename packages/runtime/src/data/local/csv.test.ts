import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { openCsv } from './csv.js';
import { validateDataDeclaration, type CsvDataDeclaration } from './declaration.js';
import { DataError } from './errors.js';
import { StreamingDataset } from './streaming.js';
import { tempDir, thrown } from './test-helpers.js';
import { writeTabularCsv } from './testdata.js';

const decl = (extra: object = {}): CsvDataDeclaration =>
  validateDataDeclaration({
    kind: 'csv',
    inputShape: [2],
    classNames: ['no', 'yes'],
    preprocessing: { featureColumns: ['a', 'b'], labelColumn: 'y', ...extra },
  }) as CsvDataDeclaration;

describe('CSV data', function () {
  this.timeout(60_000);
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('csv')));
  afterEach(() => remove());

  it('reads the generated table back: columns by name, labels by class name, standard scaling', async () => {
    const file = path.join(dir, 't.csv');
    const t = await writeTabularCsv(file, { n: 300, seed: 4 });
    const src = await openCsv(file, t.declaration);
    assert.equal(src.size, 300);
    assert.deepEqual(Array.from(src.labels), Array.from(t.y));
    const data = await new StreamingDataset(src).load();
    const s = t.declaration.preprocessing.scaling;
    assert.ok(s.kind === 'standard');
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < 4; j++) {
        assert.equal(data.x[i * 4 + j], Math.fround((t.x[i * 4 + j]! - s.mean[j]!) / s.std[j]!));
      }
    }
    // Standardised with the data's own statistics: mean ~0, std ~1 per feature.
    for (let j = 0; j < 4; j++) {
      let m = 0;
      for (let i = 0; i < 300; i++) m += data.x[i * 4 + j]! / 300;
      assert.ok(Math.abs(m) < 1e-4);
    }
    const counts = [0, 0, 0];
    for (const c of t.y) counts[c]!++;
    assert.deepEqual(Object.values(src.report.perClass), counts);
    assert.ok(counts.every((c) => c > 60), 'roughly balanced');
  });

  it('skips and counts rows with missing or non-numeric features or an empty label, with line numbers', async () => {
    const file = path.join(dir, 'bad.csv');
    await fsp.writeFile(
      file,
      ['a,b,y', '1,2,no', ',3,yes', '4,abc,no', '5,NaN,yes', '6,Infinity,no', '7,8,', '9', '', '10,11,yes', ' 12 , 13 ,yes'].join('\n'),
    );
    const src = await openCsv(file, decl());
    assert.equal(src.size, 3);
    const r = src.report;
    assert.deepEqual(r.skippedByReason, { 'missing-value': 3, 'non-numeric': 3 });
    assert.deepEqual(r.skipped.map((s) => s.where.replace(`${file} `, '')), ['line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8']);
    assert.match(r.skipped[1]!.detail, /column 'b' holds 'abc'/);
    assert.match(r.skipped[0]!.detail, /no value in column 'a'/);
    assert.match(r.skipped[4]!.detail, /label column 'y'/);
    const data = await new StreamingDataset(src).load();
    assert.deepEqual(Array.from(data.x), [1, 2, 10, 11, 12, 13]);
    assert.deepEqual(Array.from(data.y), [0, 1, 1]);
    assert.equal(src.describe(2), `${file} line 11`);
  });

  it('refuses an unknown label value with the value and its line', async () => {
    const file = path.join(dir, 'u.csv');
    await fsp.writeFile(file, 'a,b,y\n1,2,no\n3,4,maybe\n');
    const e = await thrown(() => openCsv(file, decl()));
    assert.ok(e instanceof DataError);
    assert.equal(e.code, 'unknown-label');
    assert.match(e.message, /line 3: label 'maybe' in column 'y' is not a declared class \(declared: no, yes\)/);
  });

  it('refuses a header without the declared columns, malformed CSV, and a file with no usable row', async () => {
    const file = path.join(dir, 'h.csv');
    await fsp.writeFile(file, 'a,c,label\n1,2,no\n');
    let e = await thrown(() => openCsv(file, decl()));
    assert.equal(e.code, 'format');
    assert.match(e.message, /lacks declared columns 'b', 'y' \(header: a, c, label\)/);
    await fsp.writeFile(file, 'a,b,y\n1,2,no\n"3,4,yes\n');
    e = await thrown(() => openCsv(file, decl()));
    assert.equal(e.code, 'format');
    assert.match(e.message, /is not valid CSV/);
    await fsp.writeFile(file, 'a,b,y\n,,no\n');
    e = await thrown(() => openCsv(file, decl()));
    assert.equal(e.code, 'empty');
    assert.match(e.message, /no usable row in .*: 1 skipped \(1 missing-value\)/);
    await fsp.writeFile(file, '');
    e = await thrown(() => openCsv(file, decl()));
    assert.equal(e.code, 'empty');
    e = await thrown(() => openCsv(path.join(dir, 'none.csv'), decl()));
    assert.equal(e.code, 'format');
    assert.match(e.message, /does not exist/);
  });

  it('handles a BOM, CRLF, quoted fields with delimiters and newlines, another delimiter, and min-max scaling', async () => {
    const file = path.join(dir, 'q.csv');
    const text = '\ufeff"note";b;a;y\r\n"x; y";2;1;no\r\n"multi\r\nline";20;10;yes\r\n\r\n"";-2;5;"yes"\r\n';
    await fsp.writeFile(file, text);
    const src = await openCsv(file, decl({ delimiter: ';', scaling: { kind: 'minmax', min: [0, -2], max: [10, 22] } }));
    assert.equal(src.size, 3);
    assert.equal(src.describe(1), `${file} line 3`, 'a record spanning lines is named by its first line');
    assert.equal(src.describe(2), `${file} line 6`, 'empty lines count');
    const data = await new StreamingDataset(src).load();
    assert.deepEqual(Array.from(data.x), [0.1, 4 / 24, 1, 22 / 24, 0.5, 0].map(Math.fround));
    assert.deepEqual(Array.from(data.y), [0, 1, 1]);
  });
});
