export {
  ANALYTICS_ENGINE_COLUMNS,
  LOG_LEVELS,
  ObservabilityClient,
  analyticsEngineSink,
  consoleSink,
  createObservability,
  isLogLevel,
  memorySink,
  toJsonLine,
  type AnalyticsEngineSinkOptions,
  type LogEntry,
  type LogLevel,
  type LogSink,
  type MemorySink,
  type ObservabilityOptions,
} from "./logger";
export { CIRCULAR, REDACTED, isSensitiveKey, redact, redactString } from "./redact";
export {
  REQUEST_ID_HEADER,
  isValidRequestId,
  propagateRequestId,
  withObservability,
  type ObservabilityEnv,
  type ObservedHandler,
  type WithObservabilityOptions,
} from "./with-observability";
