/**
 * Steps longer than a turn allows do not make a healthy execution fail by engine retries: a turn
 * that advanced is not counted as a failed one, a step whose timeout does not fit in what is left
 * starts in a new invocation, a step still running when the invocation must end is interrupted
 * and retried (resuming from its heartbeat), and a worker killed by the timeout after committing
 * steps does not count against the execution.
 *
 * Lambda's timeout is simulated as it happens in AWS: past its deadline an invocation's next AWS
 * call kills it (test/support/faults.ts, no other fault injected). A 4 s "Lambda" stands for the
 * construct's 60 s one, 1.3 s steps for 15 s ones.
 */
import { inject } from "vitest";
import { afterEach, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import type { HistoryEvent } from "../../lambdas/core/events.js";
import { isTerminal } from "../../lambdas/core/status.js";
import type { WorkerOptions } from "../../lambdas/engine/process-wakeup.js";
import { startExecution } from "../../lambdas/engine/executions.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { FaultInjector } from "../support/faults.js";
import { uniqueName } from "../support/services.js";
import { sleep } from "./support.js";

const STEP_MS = 1_300;
const runs = new Map<string, number>();
const counted = (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1);

const longSteps = defineWorkflow("long-steps", async (ctx, input: { steps: number; stepMs?: number }) => {
  const done: number[] = [];
  for (let i = 0; i < input.steps; i += 1) done.push(await ctx.step(`s${i}`, () => sleep(input.stepMs ?? STEP_MS).then(() => i)));
  return done;
});

const fitting = defineWorkflow("fitting", async (ctx) => {
  await ctx.step("first", () => sleep(2_500).then(() => "first"));
  // Needs up to 2 s (takes 1.7): after `first` 1.5 s are left, so it starts in a new invocation
  // rather than run into the invocation's deadline.
  return ctx.step("bounded", () => (counted("bounded"), sleep(1_700).then(() => "bounded")), { timeout: "2s" });
});

const pages = defineWorkflow("pages", async (ctx) =>
  ctx.step(
    "crawl",
    async ({ heartbeat, lastHeartbeat, signal }) => {
      const from = (lastHeartbeat as { page: number } | undefined)?.page ?? 0;
      const seen: number[] = [];
      for (let page = from; page < 12; page += 1) {
        if (signal.aborted) throw new Error("interrupted");
        await sleep(400);
        counted(`page-${page}`);
        seen.push(page);
        heartbeat({ page: page + 1 });
      }
      return { from, seen };
    },
    { retry: { maxAttempts: 5, initialInterval: 10 } },
  ),
);

/** 8 s of work reporting progress: stands for a 10-minute step under a 15-minute Lambda (12 s here). */
const report = defineWorkflow("long-report", async (ctx) => {
  const pagesDone = await ctx.step("render", async ({ heartbeat, lastHeartbeat }) => {
    const from = (lastHeartbeat as { page: number } | undefined)?.page ?? 0;
    for (let page = from; page < 20; page += 1) {
      await sleep(400);
      counted(`report-page-${page}`);
      heartbeat({ page: page + 1 });
    }
    return 20 - from;
  });
  const note = await ctx.waitForSignal<string>("note");
  return { pagesDone, note };
});

let stack: LocalStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

async function run(
  workflowInput: { workflow: string; input?: unknown },
  workerOptions: WorkerOptions,
  deadlineMs = 60_000,
  setup: { workerTimeoutMs?: number; workerConcurrency?: number; whileRunning?: (executionId: string) => Promise<void> } = {},
) {
  const faults = new FaultInjector(1, {}, { stallMs: 0 }); // no faults: only the timeout kills
  stack = await startLocalStack({
    workflows: [longSteps, fitting, pages, report],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("long"),
    queueName: uniqueName("long"),
    workerTimeoutMs: setup.workerTimeoutMs ?? 4_000,
    visibilityTimeoutSeconds: 1,
    sweepIntervalMs: 1_000,
    sweepGraceMs: 1_000,
    sweepLockMs: 2_000,
    workerConcurrency: setup.workerConcurrency ?? 1,
    workerOptions: { leaseMarginMs: 500, ...workerOptions, engineRetries: { maxRetries: 3, delaySeconds: () => 0 } },
    instrumentClients: (clients) => faults.instrument(clients),
    wrapWorkerHandler: (handler) => faults.wrapHandler(handler),
  });
  const { execution } = await startExecution(stack.deps, { workflow: workflowInput.workflow, input: workflowInput.input ?? null });
  const during = setup.whileRunning?.(execution.id);
  const until = Date.now() + deadlineMs;
  for (;;) {
    const record = await stack.deps.store.getExecution(execution.id);
    if (record && isTerminal(record.status)) {
      await during;
      const { events } = await stack.deps.store.readHistory(execution.id);
      return { record, events, faults };
    }
    if (Date.now() > until) throw new Error(`${execution.id} did not end in ${deadlineMs} ms: ${JSON.stringify(record)}`);
    await sleep(200);
  }
}

const attemptsOf = (events: HistoryEvent[], type: HistoryEvent["type"]) => events.filter((e) => e.type === type);

describe("steps longer than a turn", () => {
  it("complete when each invocation runs two 15 s-like steps and the third is interrupted and retried", async () => {
    const { record, events } = await run({ workflow: "long-steps", input: { steps: 8 } }, { minRemainingMs: 1_000 });
    expect(record).toMatchObject({ status: "completed", output: [0, 1, 2, 3, 4, 5, 6, 7], retryCount: 0 });
    const interrupted = attemptsOf(events, "StepAttemptFailed") as (HistoryEvent & { error: { code?: string } })[];
    expect(interrupted.length).toBeGreaterThan(0);
    for (const e of interrupted) expect(e.error.code).toBe("STEP_INTERRUPTED");
  }, 90_000);

  it("complete when the timeout kills the worker after it committed steps: a turn that advanced does not count", async () => {
    // No interruption (margin 0): the third 1.5 s step starts with 1 s left, the invocation runs
    // into its deadline and is killed, as Lambda does, after committing two steps. 4 such turns
    // in a row; engine retries allow 3.
    const { record, faults } = await run({ workflow: "long-steps", input: { steps: 10, stepMs: 1_500 } }, { minRemainingMs: 900, turnEndMarginMs: 0 });
    expect(record).toMatchObject({ status: "completed", output: Array.from({ length: 10 }, (_, i) => i), retryCount: 0 });
    expect(faults.counts.timeout).toBeGreaterThan(0);
  }, 90_000);

  it("do not start a step whose timeout exceeds what is left: it starts first thing in a new invocation", async () => {
    const { record, events } = await run({ workflow: "fitting" }, { minRemainingMs: 500, turnEndMarginMs: 500 });
    expect(record).toMatchObject({ status: "completed", output: "bounded", retryCount: 0 });
    expect(attemptsOf(events, "StepAttemptFailed")).toEqual([]);
    expect(runs.get("bounded")).toBe(1);
  }, 60_000);

  it("resume from their last heartbeat after an interruption", async () => {
    const { record, events } = await run({ workflow: "pages" }, { minRemainingMs: 500, turnEndMarginMs: 500 });
    expect(record.status).toBe("completed");
    const output = record.output as { from: number; seen: number[] };
    expect(output.from).toBeGreaterThan(0); // the last attempt went on from an earlier one's heartbeat
    const interrupted = attemptsOf(events, "StepAttemptFailed") as (HistoryEvent & { heartbeat?: { page: number } })[];
    expect(interrupted.length).toBeGreaterThan(0);
    expect(interrupted[interrupted.length - 1]?.heartbeat?.page).toBe(output.from);
    for (let page = 0; page < 12; page += 1) expect(runs.get(`page-${page}`)).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("a step far longer than a wake-up's visibility, heartbeating under a long invocation, is neither interrupted nor run twice while wake-ups, sweeps and signals arrive", async () => {
    const { record, events } = await run({ workflow: "long-report" }, { minRemainingMs: 1_000, turnEndMarginMs: 1_000 }, 60_000, {
      workerTimeoutMs: 12_000,
      workerConcurrency: 3,
      // Signals while the step runs: each sends a wake-up another worker takes and finds the lease held.
      whileRunning: async (executionId) => {
        const deps = stack?.deps;
        if (!deps) return;
        for (let i = 0; i < 6; i += 1) {
          await sleep(1_000);
          await deps.store.addToInbox(executionId, { type: "Signal", name: i === 5 ? "note" : "noise", signalId: `s${i}`, payload: `n${i}` }, Date.now());
          await deps.scheduler.wakeNow([executionId]);
        }
      },
    });
    expect(record).toMatchObject({ status: "completed", output: { pagesDone: 20, note: "n5" }, retryCount: 0 });
    expect(attemptsOf(events, "StepAttemptFailed")).toEqual([]);
    expect(attemptsOf(events, "StepCompleted")).toHaveLength(1);
    for (let page = 0; page < 20; page += 1) expect(runs.get(`report-page-${page}`), `page ${page}`).toBe(1);
  }, 90_000);
});
