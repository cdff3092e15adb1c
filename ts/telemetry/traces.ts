/**
 * Traces through `@opentelemetry/api`: a span around every `db.query` (when an SDK is
 * registered: without one the API would hand out non-recording spans, so the query runs
 * without any), and,
 * with `open(dir, { tracing: true })` (or a `Tracer`), one span per flush and compaction,
 * made from the engine's events with their real start and end times.
 */
import { ProxyTracerProvider, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';

import type { EngineEvent, EventListener } from './events';

/** The tracer name (instrumentation scope) of StrataDB's spans. */
export const TRACER_NAME = 'stratadb';

/** The tracer of the `tracing` option: `undefined` when off. */
export function resolveTracer(option: boolean | Tracer | undefined): Tracer | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return trace.getTracer(TRACER_NAME);
  if (typeof option !== 'object' || option === null || typeof option.startSpan !== 'function') {
    throw new TypeError('tracing must be a boolean or an OpenTelemetry Tracer');
  }
  return option;
}

/**
 * The tracer spans come from, or `undefined` when no SDK is registered: the global provider
 * is then the API's proxy with no delegate, whose spans record nothing and carry only the
 * parent's context on (a `db.query` starts no child span, so nothing would see it). The
 * proxy's no-op path costs about 8,000 instructions per query; asked on every call, so an
 * SDK registered later is seen at once.
 */
function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}

/**
 * Runs `fn` inside a span named `name` (ended when its promise settles; errors recorded);
 * without a registered SDK, just `fn`.
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>, after?: (span: Span, r: T) => void): Promise<T> {
  const tracer = activeTracer();
  if (tracer === undefined) return fn();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      const r = await fn();
      if (span.isRecording()) after?.(span, r);
      return r;
    } catch (e) {
      if (span.isRecording()) {
        span.recordException(e instanceof Error ? e : String(e));
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      }
      throw e;
    } finally {
      span.end();
    }
  });
}

function eventSpan(tracer: Tracer, name: string, e: EngineEvent, attributes: Attributes): void {
  const end = e.at;
  const span = tracer.startSpan(name, { startTime: end - e.durationMs, attributes });
  span.end(end);
}

/** A listener that records flushes and compactions as spans (with their real times). */
export function traceListener(tracer: Tracer, location: string): EventListener {
  return {
    event(e) {
      if (e.kind === 'flush') {
        eventSpan(tracer, 'stratadb.flush', e, {
          'db.system': 'stratadb',
          'stratadb.location': location,
          'stratadb.file': e.file,
          'stratadb.entries': e.entries,
          'stratadb.bytes': e.bytes,
        });
      } else if (e.kind === 'compaction') {
        eventSpan(tracer, 'stratadb.compaction', e, {
          'db.system': 'stratadb',
          'stratadb.location': location,
          'stratadb.level': e.level,
          'stratadb.output_level': e.outputLevel,
          'stratadb.inputs': e.inputs,
          'stratadb.outputs': e.outputs,
          'stratadb.bytes_read': e.bytesRead,
          'stratadb.bytes_written': e.bytesWritten,
          'stratadb.trivial_move': e.trivialMove,
          'stratadb.reason': e.reason,
        });
      }
    },
  };
}
