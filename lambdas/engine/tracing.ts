/**
 * OpenTelemetry spans, through `@opentelemetry/api` only: with no SDK registered (the default)
 * every call here is a no-op; register a tracer provider (an OTel Lambda layer, or the SDK in
 * your handler) and the API's requests, each turn and each step attempt become spans. The trace
 * context of `POST /executions` is kept with the execution (its W3C `traceparent`), so its
 * turns and steps join the request's trace, however many invocations later.
 */
import { type Attributes, type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";

const TRACER_NAME = "durable-aws";

/** Span attribute names, one place. */
export const ATTR = {
  executionId: "durable.execution.id",
  workflow: "durable.workflow",
  version: "durable.workflow.version",
  run: "durable.run",
  stepName: "durable.step.name",
  stepPosition: "durable.step.position",
  stepAttempt: "durable.step.attempt",
  outcome: "durable.outcome",
} as const;

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context whose parent is the span a W3C `traceparent` names; `fallback` when it names none. */
export function contextFromTraceparent(traceparent: string | undefined, fallback: Context = context.active()): Context {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (!match) return fallback;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return fallback;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true });
}

/** The W3C `traceparent` of the active span, if a real one (an SDK is registered and sampling) is active. */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  const ctx = span?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return undefined;
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, "0")}`;
}

/**
 * Runs `fn` in a span named `name` (a child of `parent`, or of the active span), ending it when
 * `fn` settles; a throw is recorded on the span and rethrown.
 */
export async function inSpan<T>(name: string, options: { kind?: SpanKind; attributes?: Attributes; parent?: Context }, fn: (span: Span) => Promise<T>): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
