// POST /v1/metrics and /v1/traces — OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp): protobuf or
// JSON, identity/gzip/deflate. The body size is capped before and after decompression; a request
// is acknowledged only after the store has committed it, so a 200 survives a SIGKILL.
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PerfError } from '../errors.js';
import { OtlpMetricsReader } from '../ingest/otlp-metrics.js';
import { readTraces } from '../ingest/otlp-traces.js';
import { decodeMetricsRequest, decodeTracesRequest, encodeMetricsResponse, encodeTracesResponse } from '../otlp/proto.js';
import type { Store } from '../store/store.js';
import type { PrometheusView } from './prometheus.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export interface IngestStats {
  requests: Record<'ok' | 'bad_request' | 'unauthorized' | 'store_error', number>;
  acceptedPoints: number;
  rejectedPoints: number;
  acceptedSpans: number;
  rejectedSpans: number;
}

export interface IngestOptions {
  store: Store;
  view: PrometheusView;
  token?: string;
  maxDecompressed: number;
  stats: IngestStats;
  /** called after a batch is stored: data points, spans */
  onStored?: (points: number, spans: number) => void;
}

export function newIngestStats(): IngestStats {
  return { requests: { ok: 0, bad_request: 0, unauthorized: 0, store_error: 0 }, acceptedPoints: 0, rejectedPoints: 0, acceptedSpans: 0, rejectedSpans: 0 };
}

export async function ingestRoutes(app: FastifyInstance, opts: IngestOptions): Promise<void> {
  const reader = new OtlpMetricsReader();
  const raw = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, raw);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw);

  /** Auth, decompression and decoding shared by both signals; `what` names the message in errors. */
  const decode = async (req: FastifyRequest, what: string, fromProto: (b: Uint8Array) => unknown): Promise<{ decoded: unknown; isProto: boolean }> => {
    if (opts.token !== undefined && !tokenMatches(req.headers.authorization, opts.token)) {
      opts.stats.requests.unauthorized++;
      throw new PerfError('PERF_ERR_UNAUTHORIZED', 'missing or wrong ingest token: send "Authorization: Bearer <token>"');
    }
    const isProto = (req.headers['content-type'] ?? '').startsWith('application/x-protobuf');
    try {
      const body = await decompress(req.body as Buffer, String(req.headers['content-encoding'] ?? 'identity').toLowerCase(), opts.maxDecompressed);
      return { decoded: isProto ? fromProto(body) : JSON.parse(body.toString('utf8')), isProto };
    } catch (e) {
      opts.stats.requests.bad_request++;
      if (e instanceof PerfError) throw e;
      throw new PerfError('PERF_ERR_BAD_REQUEST', `cannot decode ${isProto ? 'protobuf' : 'JSON'} ${what}: ${(e as Error).message}`);
    }
  };
  const durably = async (req: FastifyRequest, write: () => Promise<void>): Promise<void> => {
    try {
      await write();
    } catch (e) {
      opts.stats.requests.store_error++;
      req.log.error({ err: e }, 'store write failed');
      // 503 is retryable in OTLP: the client keeps the batch and sends it again
      throw new PerfError('PERF_ERR_STORE', 'the store could not save this batch; retry later', { cause: e });
    }
  };

  app.post('/v1/metrics', async (req: FastifyRequest, reply: FastifyReply) => {
    const { decoded, isProto } = await decode(req, 'ExportMetricsServiceRequest', decodeMetricsRequest);
    let result;
    try {
      result = reader.read(decoded);
    } catch (e) {
      opts.stats.requests.bad_request++;
      throw new PerfError('PERF_ERR_BAD_REQUEST', `not an ExportMetricsServiceRequest: ${(e as Error).message}`);
    }
    await durably(req, () => opts.store.write(result.points));
    opts.view.add(result.points);
    opts.stats.requests.ok++;
    opts.stats.acceptedPoints += result.points.length;
    opts.stats.rejectedPoints += result.rejected;
    opts.onStored?.(result.points.length, 0);
    const response = result.rejected > 0 ? { partialSuccess: { rejectedDataPoints: String(result.rejected), errorMessage: result.errors.join('; ') } } : {};
    if (isProto) return reply.type('application/x-protobuf').send(Buffer.from(encodeMetricsResponse(response)));
    return reply.type('application/json').send(response);
  });

  app.post('/v1/traces', async (req: FastifyRequest, reply: FastifyReply) => {
    const { decoded, isProto } = await decode(req, 'ExportTraceServiceRequest', decodeTracesRequest);
    let result;
    try {
      result = readTraces(decoded);
    } catch (e) {
      opts.stats.requests.bad_request++;
      throw new PerfError('PERF_ERR_BAD_REQUEST', `not an ExportTraceServiceRequest: ${(e as Error).message}`);
    }
    await durably(req, () => opts.store.writeSpans(result.spans));
    opts.stats.requests.ok++;
    opts.stats.acceptedSpans += result.spans.length;
    opts.stats.rejectedSpans += result.rejected;
    opts.onStored?.(0, result.spans.length);
    const response = result.rejected > 0 ? { partialSuccess: { rejectedSpans: String(result.rejected), errorMessage: result.errors.join('; ') } } : {};
    if (isProto) return reply.type('application/x-protobuf').send(Buffer.from(encodeTracesResponse(response)));
    return reply.type('application/json').send(response);
  });
}

async function decompress(body: Buffer, encoding: string, max: number): Promise<Buffer> {
  try {
    if (encoding === 'gzip') return await gunzip(body, { maxOutputLength: max });
    if (encoding === 'deflate') return await inflate(body, { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new PerfError('PERF_ERR_PAYLOAD_TOO_LARGE', `body is larger than ${max} bytes once decompressed`);
    throw new PerfError('PERF_ERR_BAD_REQUEST', `body is not valid ${encoding}: ${(e as Error).message}`);
  }
  if (encoding !== 'identity') throw new PerfError('PERF_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported (use gzip, deflate or none)`);
  return body;
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = crypto.createHash('sha256').update(m[1]).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}
