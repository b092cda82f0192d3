// Metric and attribute names: OpenTelemetry semantic conventions where one exists
// (https://opentelemetry.io/docs/specs/semconv/), ours (solemate.*) where none does.
export const HTTP_SERVER_DURATION = 'http.server.request.duration'; // s
export const HTTP_SERVER_ACTIVE = 'http.server.active_requests';
export const HTTP_SERVER_REQUEST_SIZE = 'http.server.request.body.size'; // By
export const HTTP_SERVER_RESPONSE_SIZE = 'http.server.response.body.size'; // By

export const ATTR_METHOD = 'http.request.method';
export const ATTR_ROUTE = 'http.route';
export const ATTR_STATUS = 'http.response.status_code';
export const ATTR_ERROR_TYPE = 'error.type';
/**
 * On kept request traces: 13 hex digits of SHA-1 over "METHOD path?query" — which
 * requests asked for the same response (what a response cache would key on), without keeping the
 * URL, whose query may carry personal data.
 */
export const ATTR_URL_KEY = 'solemate.url.key';

export const PROCESS_CPU_UTILIZATION = 'process.cpu.utilization'; // 1 = one core fully busy
export const PROCESS_MEMORY_USAGE = 'process.memory.usage'; // By, RSS
export const PROCESS_MEMORY_UTILIZATION = 'solemate.process.memory.utilization'; // RSS / system memory
export const FILESYSTEM_UTILIZATION = 'system.filesystem.utilization'; // used / size of the cwd's filesystem
export const EVENT_LOOP_DELAY = 'nodejs.eventloop.delay'; // s, histogram
export const EVENT_LOOP_UTILIZATION = 'nodejs.eventloop.utilization';
export const HEAP_USED = 'v8js.memory.heap.used'; // By
export const HEAP_LIMIT = 'v8js.memory.heap.limit'; // By
export const GC_DURATION = 'v8js.gc.duration'; // s, histogram
export const ACTIVE_RESOURCES = 'nodejs.active_resources';

// database and cache clients (OpenTelemetry database semantic conventions)
export const DB_OPERATION_DURATION = 'db.client.operation.duration'; // s
export const DB_RETURNED_ROWS = 'db.client.response.returned_rows';
export const DB_CONNECTION_WAIT = 'db.client.connection.wait_time'; // s
export const DB_CONNECTION_COUNT = 'db.client.connection.count';
export const DB_CONNECTION_PENDING = 'db.client.connection.pending_requests';
export const CACHE_REQUESTS = 'solemate.cache.requests'; // by cache.prefix and cache.result = hit | miss
export const HTTP_CLIENT_DURATION = 'http.client.request.duration'; // s

/** Multiplier turning a duration in `unit` into milliseconds. */
export function toMillis(unit: string): number {
  switch (unit) {
    case 's':
      return 1000;
    case 'us':
    case 'µs':
      return 0.001;
    case 'ns':
      return 1e-6;
    default:
      return 1; // 'ms' and unitless timings are taken as ms (recordTiming's unit)
  }
}
