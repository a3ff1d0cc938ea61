export { NO_METRICS, PromMetrics, type Metrics, type MetricsSources, type DecisionRpc, type CommittedEntry } from './metrics';
export { startMetricsServer, scrapeAllowed, type MetricsServer } from './metrics-server';
export { buildVersion } from './build-info';
