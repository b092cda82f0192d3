// The OTLP metrics messages we read and write, with the field numbers of opentelemetry-proto v1
// (opentelemetry/proto/{common,resource,metrics,collector/metrics}/v1). Unknown fields (exemplars,
// metadata) are skipped by the decoder, so only what we use is declared.
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }

message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }

message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; string schema_url = 3; }
message ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; string schema_url = 3; }
message Metric {
  string name = 1;
  string description = 2;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10;
    Summary summary = 11;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message ExponentialHistogram { repeated ExponentialHistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }

message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
  uint32 flags = 8;
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  uint32 flags = 10;
  optional double min = 11;
  optional double max = 12;
}
message ExponentialHistogramDataPoint {
  repeated KeyValue attributes = 1;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  sint32 scale = 6;
  fixed64 zero_count = 7;
  Buckets positive = 8;
  Buckets negative = 9;
  uint32 flags = 10;
  optional double min = 12;
  optional double max = 13;
  double zero_threshold = 14;
  message Buckets { sint32 offset = 1; repeated uint64 bucket_counts = 2; }
}
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  uint32 dropped_events_count = 12;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }

message SummaryDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  double sum = 5;
  uint32 flags = 8;
}
`;

const root = protobuf.parse(SCHEMA, { keepCase: false }).root;
export const ExportMetricsServiceRequest = root.lookupType('otlp.ExportMetricsServiceRequest');
export const ExportMetricsServiceResponse = root.lookupType('otlp.ExportMetricsServiceResponse');

/** protobuf → the OTLP/JSON shape (camelCase, 64-bit integers as strings), so one reader serves both encodings. */
export function decodeMetricsRequest(bytes: Uint8Array): unknown {
  const msg = ExportMetricsServiceRequest.decode(bytes);
  return ExportMetricsServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: String, defaults: false, oneofs: false });
}

export function encodeMetricsRequest(json: object): Uint8Array {
  return ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.fromObject(json)).finish();
}

export function encodeMetricsResponse(json: object): Uint8Array {
  return ExportMetricsServiceResponse.encode(ExportMetricsServiceResponse.fromObject(json)).finish();
}

export const ExportTraceServiceRequest = root.lookupType('otlp.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('otlp.ExportTraceServiceResponse');

const ID_FIELDS = ['traceId', 'spanId', 'parentSpanId'] as const;
type Spanish = Record<string, unknown>;
function eachSpan(req: unknown, fn: (s: Spanish) => void): void {
  for (const rs of ((req as { resourceSpans?: unknown[] })?.resourceSpans ?? []) as { scopeSpans?: { spans?: Spanish[] }[] }[]) {
    for (const ss of rs?.scopeSpans ?? []) for (const s of ss?.spans ?? []) if (s && typeof s === 'object') fn(s);
  }
}

/**
 * protobuf → the OTLP/JSON shape. OTLP/JSON writes trace and span ids as hex (not base64, the
 * usual protobuf-JSON mapping for bytes), so the ids are converted here.
 */
export function decodeTracesRequest(bytes: Uint8Array): unknown {
  const msg = ExportTraceServiceRequest.decode(bytes);
  const obj = ExportTraceServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: Array, defaults: false, oneofs: false });
  eachSpan(obj, (s) => {
    for (const f of ID_FIELDS) if (Array.isArray(s[f])) s[f] = Buffer.from(s[f] as number[]).toString('hex');
  });
  return obj;
}

/** OTLP/JSON shape (hex ids) → protobuf. */
export function encodeTracesRequest(json: object): Uint8Array {
  const copy = structuredClone(json);
  eachSpan(copy, (s) => {
    for (const f of ID_FIELDS) if (typeof s[f] === 'string') s[f] = Buffer.from(s[f] as string, 'hex');
  });
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(copy)).finish();
}

export function encodeTracesResponse(json: object): Uint8Array {
  return ExportTraceServiceResponse.encode(ExportTraceServiceResponse.fromObject(json)).finish();
}
