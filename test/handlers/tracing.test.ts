/**
 * OpenTelemetry spans of one execution, through the local stack (the API handler over HTTP, the
 * worker on the SQS emulator): `POST /executions` with a `traceparent` makes an API span under
 * the caller's; every turn of the execution is a span under that API span, however many
 * invocations later; every step attempt is a span under its turn. With no SDK registered the
 * same code records nothing (the other tests).
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { uniqueName } from "../support/services.js";

const traced = defineWorkflow("traced", async (ctx, input: { name: string }) => {
  const upper = await ctx.step("upper", () => input.name.toUpperCase());
  await ctx.sleep("pause", "50ms");
  const greeting = await ctx.step("greet", ({ attempt }) => {
    if (attempt === 1) throw new Error("flaky");
    return `hello ${upper}`;
  }, { retry: { maxAttempts: 2, initialInterval: 10 } });
  return greeting;
});

const exporter = new InMemorySpanExporter();
let stack: LocalStack;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  stack = await startLocalStack({
    workflows: [traced],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("traces"),
    queueName: uniqueName("traces"),
  });
});

afterAll(async () => {
  await stack?.stop();
  trace.disable();
  context.disable();
});

function parentOf(span: ReadableSpan): string | undefined {
  const s = span as ReadableSpan & { parentSpanContext?: { spanId: string }; parentSpanId?: string };
  return s.parentSpanContext?.spanId ?? s.parentSpanId;
}

describe("traces", () => {
  it("make the API span of a start the parent of the execution's turns, and each turn the parent of its step attempts", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpanId = "00f067aa0ba902b7";
    const answer = await fetch(`${stack.apiUrl}/executions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.bearerToken}`, "content-type": "application/json", traceparent: `00-${traceId}-${callerSpanId}-01` },
      body: JSON.stringify({ workflow: "traced", id: "traced-1", input: { name: "ada" } }),
    });
    expect(answer.status).toBe(201);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const execution = await stack.deps.store.getExecution("traced-1");
      if (execution?.status === "completed") break;
      if (Date.now() > deadline) throw new Error(`not completed: ${execution?.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 200)); // the last turn's span ends after its commit

    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const api = spans.filter((s) => s.name === "durable.api");
    expect(api).toHaveLength(1);
    const start = api[0] as ReadableSpan;
    expect(parentOf(start)).toBe(callerSpanId);
    expect(start.attributes).toMatchObject({ "http.request.method": "POST", "http.route": "POST /executions", "http.response.status_code": 201 });

    const turns = spans.filter((s) => s.name === "durable.turn");
    expect(turns.length).toBeGreaterThanOrEqual(2); // the sleep and the retry each end a turn
    for (const turn of turns) {
      expect(parentOf(turn)).toBe(start.spanContext().spanId);
      expect(turn.attributes).toMatchObject({ "durable.execution.id": "traced-1", "durable.workflow": "traced", "durable.run": 1 });
    }
    const turnIds = new Set(turns.map((t) => t.spanContext().spanId));
    const steps = spans.filter((s) => s.name === "durable.step");
    expect(steps.map((s) => [s.attributes["durable.step.name"], s.attributes["durable.step.attempt"]])).toEqual([
      ["upper", 1],
      ["greet", 1],
      ["greet", 2],
    ]);
    for (const step of steps) expect(turnIds.has(parentOf(step) ?? "")).toBe(true);
    expect(steps[1]?.status.code).toBe(2); // the failed attempt is an error span
    expect(steps[1]?.events.some((e) => e.name === "exception")).toBe(true);
  });

  it("starts a trace of its own for a request without a traceparent", async () => {
    const before = exporter.getFinishedSpans().length;
    const answer = await fetch(`${stack.apiUrl}/workflows`, { headers: { authorization: `Bearer ${stack.bearerToken}` } });
    expect(answer.status).toBe(200);
    const [span] = exporter.getFinishedSpans().slice(before).filter((s) => s.name === "durable.api");
    expect(span?.attributes["http.route"]).toBe("GET /workflows");
    expect(parentOf(span as ReadableSpan)).toBeUndefined();
  });
});
