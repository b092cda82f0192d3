// The JSON parser's worker thread (json-parser.ts): checks a body's nesting, parses it, counts its
// points or spans and, within the limit, cuts it into slices sent back as JSON text.
import { parentPort } from 'node:worker_threads';
import { PerfError } from '../errors.js';
import { JSON_SIGNALS as SIGNALS } from '../otlp/slices.js';
import { checkJsonDepth } from './body.js';
import type { JsonJob, JsonAnswer } from './json-parser.js';


parentPort!.on('message', (job: JsonJob) => {
  let answer: JsonAnswer;
  try {
    const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
    checkJsonDepth(body, job.depth);
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const signal = SIGNALS[job.signal];
    const count = signal.count(parsed);
    const slices = count > job.max ? [] : Array.from(signal.slice(parsed, job.slice), (s) => JSON.stringify(s));
    answer = { id: job.id, count, slices };
  } catch (e) {
    answer = { id: job.id, error: (e as Error).message, code: e instanceof PerfError ? e.code : undefined };
  }
  parentPort!.postMessage(answer);
});
