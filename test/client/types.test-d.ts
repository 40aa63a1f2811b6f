/**
 * Compile-time checks of the client's types, run by `npx tsc --noEmit` (tsconfig includes test/;
 * vitest does not run `.test-d.ts` files, and need not: nothing here executes). A wrong input
 * does not compile; `result()` and `get()` carry the workflow's output and input types; the
 * client's views have the same fields as the API's (a field added on one side only fails here).
 */
import { expectTypeOf } from "vitest";
import type {
  DurableClient,
  Execution,
  ExecutionHandle,
  ExecutionSummary,
  ExecutionWithRefs,
  HistoryEventView,
  StartedExecution,
  ValueRef,
  WorkflowInput,
  WorkflowOutput,
} from "../../lambdas/client/index.js";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import type { ExecutionSummary as ServerExecutionSummary, ExecutionView } from "../../lambdas/engine/executions.js";
import type { ValueRef as ServerValueRef } from "../../lambdas/engine/values.js";

const order = defineWorkflow("order", async (_ctx, input: { orderId: string; quantity: number }) => ({ total: input.quantity * 3, currency: "EUR" as const }));
const noInput = defineWorkflow("tick", async () => 42);

declare const client: DurableClient;

export async function startIsCheckedAgainstTheDefinition(): Promise<void> {
  const run = await client.start(order, { orderId: "o-1", quantity: 2 });
  expectTypeOf(run).toEqualTypeOf<StartedExecution<{ orderId: string; quantity: number }, { total: number; currency: "EUR" }>>();

  // @ts-expect-error quantity must be a number
  await client.start(order, { orderId: "o-1", quantity: "2" });
  // @ts-expect-error quantity is missing
  await client.start(order, { orderId: "o-1" });
  // @ts-expect-error no such field in the workflow's input
  await client.start(order, { orderId: "o-1", quantity: 2, coupon: "X" });
  // @ts-expect-error the input is required when the workflow takes one
  await client.start(order);

  // A workflow without an input parameter takes anything (the engine passes null).
  await client.start(noInput, undefined);
  // By name: untyped unless the caller says.
  const byName = await client.start("order", { anything: true });
  expectTypeOf(byName).toEqualTypeOf<StartedExecution<{ anything: boolean }, unknown>>();
}

export async function resultAndGetCarryTheTypes(): Promise<void> {
  const run = await client.start(order, { orderId: "o-1", quantity: 2 });
  expectTypeOf(await client.result(run)).toEqualTypeOf<{ total: number; currency: "EUR" }>();
  expectTypeOf(await client.result(await client.start(noInput, null))).toEqualTypeOf<number>();

  const execution = await client.get(run);
  expectTypeOf(execution).toEqualTypeOf<Execution<{ orderId: string; quantity: number }, { total: number; currency: "EUR" }>>();
  expectTypeOf(execution.output).toEqualTypeOf<{ total: number; currency: "EUR" } | undefined>();

  // Left as references, the input may be absent (named in valueRefs); resolved, it is the value.
  const asAnswered = await client.get(run, { values: "refs" });
  expectTypeOf(asAnswered).toEqualTypeOf<ExecutionWithRefs<{ orderId: string; quantity: number }, { total: number; currency: "EUR" }>>();
  expectTypeOf(asAnswered.input).toEqualTypeOf<{ orderId: string; quantity: number } | undefined>();
  expectTypeOf(await client.get(run, { values: "resolve" })).toEqualTypeOf<typeof execution>();
  expectTypeOf(await client.get<{ a: 1 }, string>("some-id", { signal: AbortSignal.timeout(1_000) })).toEqualTypeOf<Execution<{ a: 1 }, string>>();
  expectTypeOf(asAnswered.valueRefs?.output).toEqualTypeOf<ValueRef | undefined>();
  // @ts-expect-error an execution names only its input and output
  void asAnswered.valueRefs?.result;
  // @ts-expect-error not a way of reading values
  await client.get(run, { values: "inline" });

  // A handle kept as data (say in a database) is `{ id, workflow }`; the types are then the caller's to give.
  const stored: ExecutionHandle = { id: run.id, workflow: run.workflow };
  expectTypeOf(await client.result(stored)).toEqualTypeOf<unknown>();
  expectTypeOf(await client.result("some-id")).toEqualTypeOf<unknown>();
  expectTypeOf(await client.result<{ total: number }>("some-id")).toEqualTypeOf<{ total: number }>();
  // @ts-expect-error the output of `order` has no `count`
  (await client.result(run)).count;

  // A typed handle works wherever an id does.
  await client.signal(run, "decision", { approved: true });
  await client.cancel(run, "reason");
  await client.history(run);
}

export function helpersNameTheTypes(): void {
  expectTypeOf<WorkflowInput<typeof order>>().toEqualTypeOf<{ orderId: string; quantity: number }>();
  expectTypeOf<WorkflowOutput<typeof order>>().toEqualTypeOf<{ total: number; currency: "EUR" }>();
}

export async function historyEventsNarrowOnType(): Promise<void> {
  for await (const event of client.iterateHistory("some-id")) {
    expectTypeOf(event.at).toEqualTypeOf<string>();
    expectTypeOf(event.seq).toEqualTypeOf<number>();
    if (event.type === "StepCompleted") expectTypeOf(event.name).toEqualTypeOf<string>();
    if (event.type === "ExecutionFailed") {
      expectTypeOf(event.error.message).toEqualTypeOf<string>();
      // @ts-expect-error the API never sends stacks
      void event.error.stack;
    }
    // @ts-expect-error `atMs` is the engine's; the API sends `at`
    void event.atMs;
    if (event.type === "StepCompleted" && event.valueRefs?.result) {
      expectTypeOf(await client.value<string>("some-id", event.valueRefs.result)).toEqualTypeOf<string>();
      // @ts-expect-error a step's event names only its result
      void event.valueRefs.payload;
    }
    if (event.type === "SignalReceived") expectTypeOf(event.valueRefs).toEqualTypeOf<{ payload?: ValueRef } | undefined>();
    // @ts-expect-error an event without values has no references
    if (event.type === "TimerFired") void event.valueRefs;
  }
  expectTypeOf(await client.value("some-id", "7.result")).toEqualTypeOf<unknown>();
  expectTypeOf<Extract<HistoryEventView, { type: "TimerStarted" }>["fireAtMs"]>().toEqualTypeOf<number>();
}

export function viewsMatchTheServers(): void {
  expectTypeOf<keyof Execution>().toEqualTypeOf<keyof ExecutionView>();
  expectTypeOf<keyof ExecutionSummary>().toEqualTypeOf<keyof ServerExecutionSummary>();
  // The server's status is a plain string; every value the client types is one.
  expectTypeOf<Execution["status"]>().toExtend<ExecutionView["status"]>();
  expectTypeOf<Omit<Execution, "status" | "input" | "output" | "valueRefs">>().toEqualTypeOf<Omit<ExecutionView, "status" | "input" | "output" | "valueRefs">>();
  // The server types references by any field and sets `href` in its handler; the client types
  // what the API sends: the execution's two fields, always with `href`.
  expectTypeOf<NonNullable<Execution["valueRefs"]>>().toExtend<NonNullable<ExecutionView["valueRefs"]>>();
  expectTypeOf<keyof ValueRef>().toEqualTypeOf<keyof ServerValueRef>();
  expectTypeOf<ValueRef>().toExtend<ServerValueRef>();
}
