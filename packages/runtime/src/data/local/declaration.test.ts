import assert from 'node:assert/strict';
import { validateDataDeclaration } from './declaration.js';
import { DataError } from './errors.js';

function problems(input: unknown): string {
  try {
    validateDataDeclaration(input);
  } catch (e) {
    assert.ok(e instanceof DataError);
    assert.equal(e.code, 'declaration');
    return e.message;
  }
  assert.fail('declaration was accepted');
}

describe('validateDataDeclaration', () => {
  it('fills image defaults from inputShape', () => {
    const d = validateDataDeclaration({ kind: 'image', inputShape: [32, 32, 3], classNames: ['cat', 'dog'] });
    assert.deepEqual(d, {
      kind: 'image',
      inputShape: [32, 32, 3],
      classNames: ['cat', 'dog'],
      preprocessing: { height: 32, width: 32, channels: 3, resize: 'stretch', normalize: { kind: 'scale' } },
    });
  });

  it('accepts full image, csv and npy declarations', () => {
    const img = validateDataDeclaration({
      kind: 'image',
      inputShape: [24, 24, 3],
      classNames: ['a', 'b'],
      preprocessing: { height: 24, width: 24, channels: 3, resize: 'center-crop', normalize: { kind: 'mean-std', mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] } },
    });
    assert.equal(img.kind === 'image' && img.preprocessing.resize, 'center-crop');
    const csv = validateDataDeclaration({
      kind: 'csv',
      inputShape: [2],
      classNames: ['x', 'y'],
      preprocessing: { featureColumns: ['u', 'v'], labelColumn: 'k', scaling: { kind: 'minmax', min: [0, 1], max: [1, 2] } },
    });
    assert.deepEqual(csv.kind === 'csv' && csv.preprocessing.delimiter, ',');
    const npy = validateDataDeclaration({ kind: 'npy', inputShape: [4], classNames: ['x', 'y'] });
    assert.deepEqual(npy.preprocessing, { scale: 1, offset: 0 });
  });

  it('reports every problem at once, with its field path and the bad value', () => {
    const msg = problems({
      kind: 'image',
      inputShape: [28, 28, 2],
      classNames: ['a', 'a', ''],
      preprocessing: { height: -3, resize: 'fit', normalize: { kind: 'mean-std', mean: [0.5], std: [0] }, colour: true },
    });
    for (const part of [
      'inputShape[2]: channels must be 1 (grayscale) or 3 (RGB) (got 2)',
      'classNames[1]: duplicates classNames[0] (got "a")',
      'classNames[2]: must be a non-empty string (got "")',
      'preprocessing.height: must be a positive integer (got -3)',
      "preprocessing.resize: must be 'stretch' or 'center-crop' (got \"fit\")",
      'preprocessing.colour: unknown field',
      'preprocessing.normalize.std[0]: must be a positive finite number (got 0)',
    ]) {
      assert.ok(msg.includes(part), `missing "${part}" in:\n${msg}`);
    }
  });

  it('refuses inconsistent shapes and per-channel / per-feature arrays of the wrong length', () => {
    assert.match(problems({ kind: 'image', inputShape: [28, 28, 1], classNames: ['a', 'b'], preprocessing: { height: 32 } }), /differ from inputShape \[28, 28, 1\]/);
    assert.match(
      problems({ kind: 'image', inputShape: [8, 8, 3], classNames: ['a', 'b'], preprocessing: { normalize: { kind: 'mean-std', mean: [0.5], std: [1, 1, 1] } } }),
      /normalize\.mean: must have 3 entries, one per channel, has 1/,
    );
    const csv = (extra: object, shape = [2]) =>
      problems({ kind: 'csv', inputShape: shape, classNames: ['a', 'b'], preprocessing: { featureColumns: ['u', 'v'], labelColumn: 'k', ...extra } });
    assert.match(csv({}, [3]), /inputShape: must be \[2\] \(one entry per feature column\)/);
    assert.match(csv({ scaling: { kind: 'standard', mean: [0, 0, 0], std: [1, 1] } }), /scaling\.mean: must have 2 entries, one per feature column, has 3/);
    assert.match(csv({ scaling: { kind: 'minmax', min: [0, 5], max: [1, 5] } }), /scaling\.max\[1\]: must be greater than min\[1\] = 5/);
    assert.match(csv({ labelColumn: 'u' }), /labelColumn: is also a feature column/);
    assert.match(csv({ delimiter: '"' }), /delimiter: must be a single character/);
  });

  it('refuses wrong kinds, non-objects, too few classes and class names unusable as folders', () => {
    assert.match(problems(null), /must be an object, got null/);
    assert.match(problems({ kind: 'parquet', inputShape: [1], classNames: ['a', 'b'] }), /kind: must be 'image', 'csv' or 'npy' \(got "parquet"\)/);
    assert.match(problems({ kind: 'npy', inputShape: [], classNames: ['a'] }), /inputShape: must be a non-empty array[\s\S]*classNames: must be an array of at least 2/);
    assert.match(problems({ kind: 'image', inputShape: [4, 4, 1], classNames: ['ok', 'a/b', '.hidden'] }), /classNames\[1\][\s\S]*classNames\[2\]/);
    assert.match(problems({ kind: 'npy', inputShape: [4], classNames: ['a', 'b'], preprocessing: { scale: 'x' } }), /preprocessing\.scale: must be a finite number/);
  });
});
