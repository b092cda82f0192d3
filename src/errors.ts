// Coded errors, listed in docs/errors.md. Codes are stable; messages say what to do next.
export type PerfErrorCode =
  | 'PERF_ERR_CONFIG'
  | 'PERF_ERR_BAD_REQUEST'
  | 'PERF_ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'PERF_ERR_PAYLOAD_TOO_LARGE'
  | 'PERF_ERR_UNAUTHORIZED'
  | 'PERF_ERR_FORBIDDEN'
  | 'PERF_ERR_STORE'
  | 'PERF_ERR_QUERY'
  | 'PERF_ERR_NOT_FOUND'
  | 'PERF_ERR_USAGE'
  | 'PERF_ERR_UNREACHABLE'
  | 'PERF_ERR_CONFLICT'
  | 'PERF_ERR_TIMEOUT'
  | 'PERF_ERR_BUSY'
  | 'PERF_ERR_QUERY_BUDGET'
  | 'PERF_ERR_LIGHTHOUSE';

const HTTP_STATUS: Record<PerfErrorCode, number> = {
  PERF_ERR_CONFIG: 500,
  PERF_ERR_BAD_REQUEST: 400,
  PERF_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  PERF_ERR_PAYLOAD_TOO_LARGE: 413,
  PERF_ERR_UNAUTHORIZED: 401,
  PERF_ERR_FORBIDDEN: 403,
  PERF_ERR_STORE: 503,
  PERF_ERR_QUERY: 400,
  PERF_ERR_NOT_FOUND: 404,
  PERF_ERR_USAGE: 400,
  PERF_ERR_UNREACHABLE: 502,
  PERF_ERR_CONFLICT: 409,
  PERF_ERR_TIMEOUT: 504,
  PERF_ERR_BUSY: 429,
  PERF_ERR_QUERY_BUDGET: 422,
  PERF_ERR_LIGHTHOUSE: 502,
};

export class PerfError extends Error {
  readonly code: PerfErrorCode;
  readonly statusCode: number;
  /** seconds, sent as Retry-After (429, 503) */
  readonly retryAfter: number | undefined;
  constructor(code: PerfErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options);
    this.name = 'PerfError';
    this.code = code;
    this.statusCode = HTTP_STATUS[code];
    this.retryAfter = options?.retryAfter;
  }
}
