import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHistogram, encodeHistogram } from '../../src/store/codec.js';

test('histogram codec round-trips negative offsets, zero counts and counts past 2^32', () => {
  const h = { scale: -3, zeroCount: 7, offset: -1234, counts: [0, 1, 127, 128, 2 ** 33 + 5, 0, 3] };
  assert.deepEqual(decodeHistogram(encodeHistogram(h)), h);
  const empty = { scale: 6, zeroCount: 0, offset: 0, counts: [] };
  assert.deepEqual(decodeHistogram(encodeHistogram(empty)), empty);
});

test('truncated or foreign blobs are refused', () => {
  const buf = encodeHistogram({ scale: 6, zeroCount: 1, offset: 5, counts: [300, 400] });
  assert.throws(() => decodeHistogram(buf.subarray(0, buf.length - 1)), /truncated/);
  assert.throws(() => decodeHistogram(Buffer.from([9, 0])), /version/);
});
