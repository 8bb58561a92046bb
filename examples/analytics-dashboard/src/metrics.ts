import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { instrumentVersionedCache } from '@versioned-cache/metrics';

export interface CacheMetrics {
  /** Answers a scrape with the Prometheus text format. */
  scrape(request: IncomingMessage, response: ServerResponse): void;
  close(): Promise<void>;
}

/**
 * The cache's metrics for Prometheus: the OpenTelemetry SDK with its Prometheus exporter, served
 * by the app at `/metrics` rather than on a port of its own.
 */
export function startMetrics(): CacheMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutTargetInfo: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const unsubscribe = instrumentVersionedCache({ meter: provider.getMeter('analytics-dashboard') });
  return {
    scrape: (request, response) => exporter.getMetricsRequestHandler(request, response),
    async close() {
      unsubscribe();
      await provider.shutdown();
    },
  };
}
