import { test } from 'node:test';
import assert from 'node:assert/strict';
import { own } from '../../src/instrument/source.js';

test('own(): an own data property by its descriptor; an accessor or an inherited property as a lookup gives it', () => {
  const proto = { inherited: 'from the prototype' };
  const o = Object.setPrototypeOf({ data: 404 }, proto) as { data: number; inherited: string; computed: number };
  let calls = 0;
  Object.defineProperty(o, 'computed', { get: () => ++calls * 100, enumerable: true });
  assert.equal(own(o, 'data'), 404);
  assert.equal(own(o, 'inherited'), 'from the prototype');
  assert.equal(own(o, 'computed'), 100, 'the getter runs: an accessor is not read as a value');
  assert.equal(calls, 1);
  assert.equal(own({} as { missing?: string }, 'missing'), undefined);
});
