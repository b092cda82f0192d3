// OTLP/JSON bodies parsed where they do not stop the server. JSON.parse cannot yield: a 9 MiB body
// (20,000 histogram points) held the event loop ~80 ms for the nesting check, the UTF-8 decode and
// the parse, and /healthz waited as long. A body of at least WORKER_BYTES goes to one worker thread
// that does all three, counts the points and cuts them into slices; the server parses each slice
// (~2 ms) between two turns of its loop. Smaller bodies are parsed in place: the thread costs more.
import type { Worker } from 'node:worker_threads';
import { PerfError, type PerfErrorCode } from '../errors.js';
import { JSON_SIGNALS as SIGNALS } from '../otlp/slices.js';
import { moduleWorker } from '../threads.js';
import { checkJsonDepth } from './body.js';

/** Bodies from this size (decompressed) are parsed in the worker. */
export const WORKER_BYTES = 256 * 1024;
/**
 * The worker's heap: a body that needs more to parse (16 MiB of tiny arrays can take ~1 GiB) ends the
 * worker, not the server, and is answered 413.
 */
const WORKER_HEAP_MIB = 512;
/** The worker ends after this long without a body: a thread that parsed 16 MiB keeps its heap until it ends. */
const IDLE_MS = 5000;

export type JsonSignal = 'metrics' | 'traces';
export interface JsonJob {
  id: number;
  body: Uint8Array;
  signal: JsonSignal;
  depth: number;
  /** the points (spans) limit: past it the count comes back without slices */
  max: number;
  slice: number;
}
export type JsonAnswer = { id: number; count: number; slices: string[] } | { id: number; error: string; code?: string };

export interface ParsedJson {
  count: number;
  /** in the shape of decodeMetricsRequest / decodeTracesRequest, at most `slice` points each; empty past `max` */
  slices: Iterable<object>;
}


export class JsonParser {
  /** the worker and the bodies it holds (a worker that ends fails its own, not a successor's) */
  private worker?: { thread: Worker; pending: Map<number, { resolve: (a: JsonAnswer) => void; reject: (e: Error) => void }> };
  private next = 1;
  private idle?: NodeJS.Timeout;

  constructor(private readonly options: { depth: number; slice: number; workerBytes?: number; idleMs?: number }) {}

  /** whether the worker thread is up */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Throws what JSON.parse throws, PerfError PERF_ERR_BAD_REQUEST (too deep), PERF_ERR_PAYLOAD_TOO_LARGE
   * (past the worker's heap) or PERF_ERR_STORE (the worker died otherwise: retryable).
   */
  async parse(body: Buffer, signal: JsonSignal, max: number): Promise<ParsedJson> {
    if (body.length < (this.options.workerBytes ?? WORKER_BYTES)) return this.inPlace(body, signal);
    const answer = await this.send(body, signal, max);
    // the worker's PerfError as it was; anything else (JSON.parse's SyntaxError) as a plain error, as in place
    if ('error' in answer) throw answer.code ? new PerfError(answer.code as PerfErrorCode, answer.error) : new Error(answer.error);
    return { count: answer.count, slices: lazily(answer.slices) };
  }

  /** Ends the worker; a parse still under way fails. */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.thread.terminate();
  }

  private inPlace(body: Buffer, signal: JsonSignal): ParsedJson {
    checkJsonDepth(body, this.options.depth);
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    const s = SIGNALS[signal];
    return { count: s.count(parsed), slices: s.slice(parsed, this.options.slice) };
  }

  private send(body: Buffer, signal: JsonSignal, max: number): Promise<JsonAnswer> {
    clearTimeout(this.idle);
    const worker = this.start();
    const id = this.next++;
    // the body is not read again here: hand its memory over when it is the whole of it
    const owns = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const job: JsonJob = { id, body, signal, depth: this.options.depth, max, slice: this.options.slice };
    return new Promise((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      worker.thread.postMessage(job, owns ? [body.buffer as ArrayBuffer] : []);
    });
  }

  private start(): NonNullable<JsonParser['worker']> {
    if (this.worker) return this.worker;
    const thread = moduleWorker(import.meta.url, 'json-worker', { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MIB } });
    const w = { thread, pending: new Map() as NonNullable<JsonParser['worker']>['pending'] };
    thread.unref();
    thread.on('message', (a: JsonAnswer) => {
      const p = w.pending.get(a.id);
      w.pending.delete(a.id);
      p?.resolve(a);
      if (w.pending.size === 0 && this.worker === w) {
        this.idle = setTimeout(() => void this.close(), this.options.idleMs ?? IDLE_MS);
        this.idle.unref();
      }
    });
    const fail = (e: Error) => {
      if (this.worker === w) this.worker = undefined;
      const oom = (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      for (const p of w.pending.values()) {
        p.reject(oom ? new PerfError('PERF_ERR_PAYLOAD_TOO_LARGE', `this JSON body needs more than ${WORKER_HEAP_MIB} MiB to parse: export in smaller batches, or as protobuf`) : new PerfError('PERF_ERR_STORE', `the JSON parser stopped: ${e.message}; retry later`, { retryAfter: 1 }));
      }
      w.pending.clear();
    };
    thread.on('error', fail);
    thread.on('exit', (code) => fail(new Error(`its thread exited with ${code}`)));
    this.worker = w;
    return w;
  }
}

function* lazily(texts: string[]): Generator<object> {
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i];
    texts[i] = '';
    yield JSON.parse(text) as object;
  }
}
