import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from '../../src/instrument/source.js';

test('read(): an own property, an inherited one and an accessor read as o[key] reads them', () => {
  const proto = { inherited: 'from the prototype' };
  const o = Object.setPrototypeOf({ data: 404 }, proto) as { data: number; inherited: string; computed: number };
  let calls = 0;
  Object.defineProperty(o, 'computed', { get: () => ++calls * 100, enumerable: true });
  assert.equal(read(o, 'data'), 404);
  assert.equal(read(o, 'inherited'), 'from the prototype');
  assert.equal(read(o, 'computed'), 100, 'the getter runs: an accessor is not read as a value');
  assert.equal(calls, 1);
  assert.equal(read({} as { missing?: string }, 'missing'), undefined);
});
