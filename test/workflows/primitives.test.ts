/**
 * Every primitive of the programming model, run through the real worker handler with the test
 * kit's injected clock: against DynamoDB Local and the SQS emulator (cold and warm runs), and on
 * the in-memory kit (cold runs), which must behave the same.
 */
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import { Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import {
  type AnyWorkflow,
  CancelledError,
  ChildFailedError,
  defineWorkflow,
  NonRetryableError,
  StepFailedError,
} from "../../lambdas/index.js";
import { RunCache } from "../../lambdas/engine/run-cache.js";
import { createTestEnvironment, type TestEnvironment } from "../../lambdas/testing/index.js";
import { createDynamoDBTestEnvironment } from "../../local/testing.js";

const calls = new Map<string, number>();
const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1);

const pipeline = defineWorkflow("pipeline", async (ctx, input: { n: number }) => {
  const a = await ctx.step("a", () => (count("pipeline.a"), input.n + 1));
  await ctx.sleep("pause", "10s");
  const b = await ctx.step("b", () => (count("pipeline.b"), a * 2));
  await ctx.sleep("pause-2", "10s");
  const c = await ctx.step("c", () => (count("pipeline.c"), b + 3));
  return { a, b, c };
});

const monthLong = defineWorkflow("month-long", async (ctx) => {
  const started = ctx.now();
  await ctx.sleep("thirty-days", "30 days");
  return { sleptMs: ctx.now() - started };
});

const approval = defineWorkflow("approval-test", async (ctx) => {
  await ctx.sleep("cool-off", "7 days");
  const decision = await ctx.waitForSignal<{ ok: boolean }>("decision", { timeout: "24h" });
  return decision === undefined ? "expired" : decision.ok ? "approved" : "rejected";
});

const collector = defineWorkflow("collector", async (ctx) => {
  const first = await ctx.waitForSignal<string>("item");
  const second = await ctx.waitForSignal<string>("item");
  return [first, second];
});

const retrying = defineWorkflow("retrying", async (ctx, input: { failTimes: number }) =>
  ctx.step(
    "flaky",
    ({ attempt }) => {
      count(`retrying.${input.failTimes}`);
      if (attempt <= input.failTimes) throw new Error(`attempt ${attempt} failed`);
      return attempt;
    },
    { retry: { maxAttempts: 4, initialInterval: "2s", backoffCoefficient: 2 } },
  ),
);

const nonRetryable = defineWorkflow("non-retryable", async (ctx) => {
  try {
    await ctx.step("charge", () => {
      count("non-retryable.charge");
      throw new NonRetryableError("card declined", { code: "DECLINED" });
    });
    return "charged";
  } catch (err) {
    if (err instanceof StepFailedError) return { compensated: err.failure.code };
    throw err;
  }
});

const cancellable = defineWorkflow("cancellable", async (ctx) => {
  try {
    await ctx.waitForSignal("never");
    return "not canceled";
  } catch (err) {
    if (err instanceof CancelledError) await ctx.nonCancellable((c) => c.step("cleanup", () => (count("cancellable.cleanup"), "cleaned")));
    throw err;
  }
});

const child = defineWorkflow("child", async (ctx, input: { fail: boolean; value: number }) => {
  const v = await ctx.step("work", () => {
    if (input.fail) throw new NonRetryableError("child broke");
    return input.value * 10;
  });
  return v;
});

const parent = defineWorkflow("parent", async (ctx, input: { fail: boolean }) => {
  try {
    const out = await ctx.child(child, { fail: input.fail, value: 4 });
    return { ok: out };
  } catch (err) {
    if (err instanceof ChildFailedError) return { childFailed: err.status, message: err.failure.message };
    throw err;
  }
});

const deterministic = defineWorkflow("deterministic", async (ctx) => {
  const before = { r: ctx.random(), u: ctx.uuid(), t: ctx.now() };
  await ctx.sleep("s", "1 minute");
  return { before, after: { r: ctx.random(), u: ctx.uuid() } };
});

const parallel = defineWorkflow("parallel", async (ctx) => {
  const [x, y] = await Promise.all([ctx.step("x", () => "X"), ctx.step("y", () => "Y")]);
  const raced = await Promise.race([ctx.waitForSignal<string>("go"), ctx.sleep("deadline", "1h").then(() => "deadline")]);
  return { x, y, raced };
});

const batched = defineWorkflow("batched", async (ctx, input: { failing: number[] }) => {
  const mapped = await ctx.map(
    "resize",
    [1, 2, 3, 4, 5],
    async (c, n) => {
      await c.step("fetch", () => (count(`batched.fetch.${n}`), n));
      await c.sleep("render", `${n * 10} minutes`);
      return c.step("store", () => {
        if (input.failing.includes(n)) throw new NonRetryableError(`image ${n} is corrupt`);
        return n * 100;
      });
    },
    { maxConcurrency: 2, completion: { toleratedFailureCount: 1 } },
  );
  const both = await ctx.parallel<string>("notify", [(c) => c.step("mail", () => "mailed"), (c) => c.step("chat", () => "chatted")], { maxConcurrency: 1 });
  return { values: mapped.values, failed: mapped.errors.map((e) => e.index), notified: both.values };
});

const waitsForReady = defineWorkflow("waits-for-ready", async (ctx) =>
  ctx.waitForCondition<number>("ready", (polls) => (count("waits-for-ready.poll"), { done: polls + 1 >= 3, state: polls + 1 }), { initialState: 0, interval: "1 minute", timeout: "1 hour" }),
);

const callbackTokens: string[] = [];
const answered = defineWorkflow("answered", async (ctx) =>
  ctx.waitForCallback<string>("answer", (token) => void callbackTokens.push(token), { timeout: "3 days" }),
);

const poller = defineWorkflow("poller", async (ctx, input: { round: number }) => {
  await ctx.step("poll", () => input.round);
  await ctx.sleep("interval", "1h");
  if (input.round < 3) return ctx.continueAsNew({ round: input.round + 1 });
  return { rounds: input.round };
});

const versionedV1 = defineWorkflow("versioned", { version: 1 }, async (ctx) => {
  await ctx.sleep("wait", "1h");
  return "v1";
});
const versionedV2 = defineWorkflow("versioned", { version: 2 }, async (ctx) => {
  await ctx.step("new-step", () => 1);
  await ctx.sleep("wait", "1h");
  return "v2";
});

/** What these tests use of a kit; both TestEnvironment (in memory) and DynamoDBTestEnvironment have it. */
type WorkflowTestKit = Pick<TestEnvironment, "deps" | "stats" | "now" | "start" | "signal" | "cancel" | "advanceTime" | "runUntilIdle" | "execution" | "result" | "history" | "isDone" | "close">;

interface KitMode {
  name: string;
  create(options: { workflows: readonly AnyWorkflow[]; startTimeMs: number }): Promise<WorkflowTestKit>;
}

// Every test runs in three modes: replaying the whole history on every turn (cold) and with runs
// kept warm between turns as a long-lived worker does, both on DynamoDB Local and the SQS
// emulator; and cold on the in-memory kit.
const KIT_MODES: KitMode[] = [
  ...[false, true].map((warmRuns) => ({
    name: `DynamoDB Local, warm runs: ${warmRuns}`,
    create: (options: Parameters<KitMode["create"]>[0]) =>
      createDynamoDBTestEnvironment({ ...options, endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") }, warmRuns }),
  })),
  { name: "in memory, warm runs: false", create: (options) => createTestEnvironment({ ...options, warmRuns: false }) },
];

describe.each(KIT_MODES)("$name", (mode) => {
  let env: WorkflowTestKit;

  beforeAll(async () => {
    calls.clear();
    env = await mode.create({
      workflows: [pipeline, monthLong, approval, collector, retrying, nonRetryable, cancellable, child, parent, deterministic, parallel, batched, waitsForReady, answered, poller, versionedV1, versionedV2],
      startTimeMs: Date.UTC(2026, 0, 1),
    });
  });

  afterAll(async () => {
    await env?.close();
  });

  describe("through the real worker", () => {
    it("a step body does not run again on replay across several worker invocations", async () => {
      const id = await env.start(pipeline, { n: 1 });
      expect((await env.execution(id)).status).toBe("sleeping");
      const invocationsBefore = env.stats.invocations;
      await env.advanceTime("10s");
      await env.advanceTime("10s");
      expect(await env.result(id)).toEqual({ a: 2, b: 4, c: 7 });
      expect(env.stats.invocations - invocationsBefore).toBeGreaterThanOrEqual(2);
      expect([calls.get("pipeline.a"), calls.get("pipeline.b"), calls.get("pipeline.c")]).toEqual([1, 1, 1]);
      const history = await env.history(id);
      expect(history.filter((e) => e.type === "StepCompleted").map((e) => (e as { name: string }).name)).toEqual(["a", "b", "c"]);
    });

    it("sleeps 30 days on the injected clock, chaining SQS delays", async () => {
      const id = await env.start(monthLong, null);
      const execution = await env.execution(id);
      expect(execution.status).toBe("sleeping");
      expect(Date.parse(execution.nextWakeAt as string) - env.now()).toBe(30 * 86_400_000);
      await env.advanceTime("29 days");
      expect((await env.execution(id)).status).toBe("sleeping");
      await env.advanceTime("1 day");
      expect(await env.result(id)).toEqual({ sleptMs: 30 * 86_400_000 });
    });

    it("waits 7 days then takes a signal within its 24 h timeout, or expires without one", async () => {
      const approved = await env.start(approval, null);
      const expired = await env.start(approval, null);
      await env.advanceTime("7 days");
      await env.signal(approved, "decision", { ok: true });
      expect(await env.result(approved)).toBe("approved");
      await env.advanceTime("24h");
      expect(await env.result(expired)).toBe("expired");
    });

    it("keeps a signal sent before the wait, and consumes two signals in arrival order", async () => {
      const id = await env.start(collector, null, { run: false });
      await env.signal(id, "item", "first", { run: false });
      await env.signal(id, "item", "second", { run: false });
      await env.runUntilIdle();
      expect(await env.result(id)).toEqual(["first", "second"]);
    });

    it("retries a failing step with attempts spaced by the policy", async () => {
      const id = await env.start(retrying, { failTimes: 2 });
      let history = await env.history(id);
      const firstFailure = history.find((e) => e.type === "StepAttemptFailed") as { retryAtMs: number; atMs: number };
      // 2 s initial interval, up to 20 % jitter off.
      expect(firstFailure.retryAtMs - firstFailure.atMs).toBeGreaterThanOrEqual(1_600);
      expect(firstFailure.retryAtMs - firstFailure.atMs).toBeLessThanOrEqual(2_000);
      await env.advanceTime("2s");
      history = await env.history(id);
      const second = history.filter((e) => e.type === "StepAttemptFailed")[1] as { retryAtMs: number; atMs: number };
      expect(second.retryAtMs - second.atMs).toBeGreaterThanOrEqual(3_200);
      expect(second.retryAtMs - second.atMs).toBeLessThanOrEqual(4_000);
      await env.advanceTime("4s");
      expect(await env.result(id)).toBe(3);
      expect(calls.get("retrying.2")).toBe(3);
    });

    it("fails a step at once on a non-retryable error and lets the workflow compensate", async () => {
      const id = await env.start(nonRetryable, null);
      expect(await env.result(id)).toEqual({ compensated: "DECLINED" });
      expect(calls.get("non-retryable.charge")).toBe(1);
    });

    it("cancels: the workflow sees CancelledError, runs a cleanup step, and ends canceled", async () => {
      const id = await env.start(cancellable, null);
      await env.cancel(id, "no longer needed");
      const execution = await env.execution(id);
      expect(execution.status).toBe("canceled");
      expect(calls.get("cancellable.cleanup")).toBe(1);
      const history = await env.history(id);
      expect(history.map((e) => e.type)).toContain("CancelRequested");
      expect(history[history.length - 1]?.type).toBe("ExecutionCanceled");
    });

    it("runs a child workflow and hands its output, or its failure, to the parent", async () => {
      const ok = await env.start(parent, { fail: false });
      expect(await env.result(ok)).toEqual({ ok: 40 });
      const failing = await env.start(parent, { fail: true });
      expect(await env.result(failing)).toEqual({ childFailed: "failed", message: expect.stringContaining("child broke") });
    });

    it("returns the same now(), random() and uuid() on every replay", async () => {
      const id = await env.start(deterministic, null);
      await env.advanceTime("1 minute");
      const first = await env.result<{ before: { r: number; u: string; t: number } }>(id);
      expect(first.before.t).toBe(Date.parse((await env.execution(id)).createdAt));
      expect(first.before.u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });

    it("runs Promise.all over steps and Promise.race over a signal and a timer", async () => {
      const id = await env.start(parallel, null);
      await env.signal(id, "go", "signal won");
      expect(await env.result(id)).toEqual({ x: "X", y: "Y", raced: "signal won" });
      const timedOut = await env.start(parallel, null);
      await env.advanceTime("1h");
      expect(await env.result(timedOut)).toEqual({ x: "X", y: "Y", raced: "deadline" });
    });

    it("maps with a bound and a tolerated failure, then runs branches in parallel, each step once", async () => {
      const id = await env.start(batched, { failing: [4] });
      await env.advanceTime("2h");
      expect(await env.result(id)).toEqual({ values: [100, 200, 300, 500], failed: [3], notified: ["mailed", "chatted"] });
      let open = 0;
      let most = 0;
      for (const e of await env.history(id)) {
        if (e.type === "TimerStarted") most = Math.max(most, (open += 1));
        if (e.type === "TimerFired") open -= 1;
      }
      expect(most).toBe(2);
      for (const n of [1, 2, 3, 4, 5]) expect(calls.get(`batched.fetch.${n}`)).toBe(1);
      const failing = await env.start(batched, { failing: [2, 5] });
      await env.advanceTime("2h");
      expect((await env.execution(failing)).error).toMatchObject({ code: "BATCH_FAILED" });
    });

    it("waits for a condition with durable waits between polls, each poll once", async () => {
      const id = await env.start(waitsForReady, null);
      await env.advanceTime("5 minutes");
      expect(await env.result(id)).toBe(3);
      expect(calls.get("waits-for-ready.poll")).toBe(3);
    });

    it("waits for a callback answered through its token days later", async () => {
      const before = callbackTokens.length;
      const id = await env.start(answered, null);
      expect(callbackTokens.length).toBe(before + 1);
      await env.advanceTime("2 days");
      await (env as unknown as { completeCallback(token: string, result: unknown): Promise<void> }).completeCallback(callbackTokens.at(-1) as string, "hello");
      expect(await env.result(id)).toBe("hello");
      const expired = await env.start(answered, null);
      await env.advanceTime("3 days");
      expect((await env.execution(expired)).error).toMatchObject({ code: "CALLBACK_TIMED_OUT" });
    });

    it("continues as new: same id, new runs, history of each run starts fresh", async () => {
      const id = await env.start(poller, { round: 1 });
      await env.advanceTime("1h");
      await env.advanceTime("1h");
      await env.advanceTime("1h");
      const execution = await env.execution(id);
      expect(execution.status).toBe("completed");
      expect(execution.run).toBe(3);
      expect(execution.output).toEqual({ rounds: 3 });
      const history = await env.history(id);
      expect(history.filter((e) => e.type === "ContinuedAsNew")).toHaveLength(2);
    });

    it("pins an execution to the version it started with while new starts get the latest", async () => {
      const old = await env.start("versioned", null, { version: 1 });
      const latest = await env.start("versioned", null);
      expect((await env.execution(old)).version).toBe(1);
      expect((await env.execution(latest)).version).toBe(2);
      await env.advanceTime("1h");
      expect(await env.result(old)).toBe("v1");
      expect(await env.result(latest)).toBe("v2");
      await expect(env.start("versioned", null, { version: 3 })).rejects.toMatchObject({ code: "WORKFLOW_NOT_FOUND" });
    });

    it("fails with a NonDeterminismError when the code no longer matches history", async () => {
      const v1 = defineWorkflow("drifting", async (ctx) => {
        await ctx.step("charge", () => 1);
        await ctx.sleep("wait", "1h");
        return "done";
      });
      const v1Changed = defineWorkflow("drifting", async (ctx) => {
        await ctx.step("refund", () => 1);
        await ctx.sleep("wait", "1h");
        return "done";
      });
      env.deps.registry.register(v1);
      const id = await env.start(v1, null);
      // A deploy that changed the code without a new version (new processes: nothing warm).
      (env.deps.registry as unknown as { byName: Map<string, Map<number, unknown>> }).byName.get("drifting")?.set(1, v1Changed);
      if (env.deps.runCache) env.deps.runCache = new RunCache();
      await env.advanceTime("1h");
      const execution = await env.execution(id);
      expect(execution.status).toBe("failed");
      expect(execution.error).toMatchObject({ code: "NON_DETERMINISM" });
      expect(execution.error?.message).toContain('step "charge"');
      expect(execution.error?.message).toContain('step "refund"');
    });
  });

  describe("cancellation and timeouts across executions", () => {
    it("canceling a parent cancels its running child", async () => {
      const sleeper = defineWorkflow("sleepy-child", async (ctx) => {
        await ctx.sleep("forever", "365 days");
        return "woke";
      });
      const holder = defineWorkflow("holder", async (ctx) => ctx.child(sleeper, null, { id: `${ctx.executionId}-kid` }));
      env.deps.registry.register(sleeper).register(holder);
      const id = await env.start(holder, null);
      expect((await env.execution(`${id}-kid`)).status).toBe("sleeping");
      await env.cancel(id, "stop");
      expect((await env.execution(id)).status).toBe("canceled");
      expect((await env.execution(`${id}-kid`)).status).toBe("canceled");
    });

    it("fails an attempt that runs past the step timeout, and retries it", async () => {
      let attempts = 0;
      const slow = defineWorkflow("slow-step", async (ctx) =>
        ctx.step(
          "slow",
          async ({ attempt, signal }) => {
            attempts += 1;
            if (attempt === 1) await new Promise((resolve) => signal.addEventListener("abort", resolve));
            return attempt;
          },
          { timeout: 50, retry: { maxAttempts: 2, initialInterval: "1s" } },
        ),
      );
      env.deps.registry.register(slow);
      const id = await env.start(slow, null);
      const failure = (await env.history(id)).find((e) => e.type === "StepAttemptFailed") as { error: { code: string } };
      expect(failure.error.code).toBe("STEP_TIMEOUT");
      await env.advanceTime("1s");
      expect(await env.result(id)).toBe(2);
      expect(attempts).toBe(2);
    });
  });
});

describe("the in-memory kit", () => {
  it("runs a workflow test with no services: no endpoints, no connection opened, a few milliseconds", async () => {
    const connect = vi.spyOn(Socket.prototype, "connect");
    const startedAt = performance.now();
    const env = await createTestEnvironment({ workflows: [approval] });
    const approved = await env.start(approval, null);
    const expired = await env.start(approval, null);
    await env.advanceTime("7 days");
    await env.signal(approved, "decision", { ok: true });
    await env.advanceTime("24h");
    expect(await env.result(approved)).toBe("approved");
    expect(await env.result(expired)).toBe("expired");
    await env.close();
    const elapsedMs = performance.now() - startedAt;
    expect(connect).not.toHaveBeenCalled();
    connect.mockRestore();
    // Typically 15–30 ms here (most of it chaining 7 days of 900 s SQS delays); generous for a busy machine.
    expect(elapsedMs).toBeLessThan(1_000);
  });

  it("durable-aws/testing reaches nothing of the local stack, no dev dependency and no local-only package (DynamoDB Local, Java, the SQS emulator) from its module graph", async () => {
    const manifest = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8")) as {
      devDependencies: Record<string, string>;
      exports: Record<string, { default: string }>;
    };
    // The source behind the published entry point, so the test follows the export if it moves.
    const published = manifest.exports["./testing"]?.default ?? "";
    expect(published).toBe("./dist/lambdas/testing/index.js");
    const entry = fileURLToPath(new URL(`../../${published.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts")}`, import.meta.url));
    const built = await build({ entryPoints: [entry], absWorkingDir: fileURLToPath(new URL("../..", import.meta.url)), bundle: true, write: false, metafile: true, platform: "node", format: "esm", packages: "external", logLevel: "silent" });
    const sources = Object.keys(built.metafile.inputs);
    const packages = Object.values(built.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
    const devOnly = Object.keys(manifest.devDependencies).filter((name) => !name.startsWith("@types/"));
    // Runtime dependencies that only the local stack uses: the SQS emulator and the DynamoDB Local download.
    const localOnly = ["fauxqs", "tar"];
    expect(sources.filter((s) => s.startsWith("local/") || s.includes("dynamodb-environment"))).toEqual([]);
    expect(packages.filter((p) => [...devOnly, ...localOnly].some((d) => p === d || p.startsWith(`${d}/`)))).toEqual([]);
    expect(sources).toEqual(expect.arrayContaining(["lambdas/testing/index.ts", "lambdas/testing/replay.ts", "lambdas/handlers/worker.ts"]));
  });

  it("chains a long timer through the worker in SQS's 900 s hops, or holds it until due when told to", async () => {
    const startTimeMs = Date.UTC(2026, 0, 1);
    const chained = await createTestEnvironment({ workflows: [monthLong], startTimeMs });
    const held = await createTestEnvironment({ workflows: [monthLong], startTimeMs, schedulerOptions: { maxDelaySeconds: Infinity } });
    for (const env of [chained, held]) {
      const id = await env.start(monthLong, null);
      await env.advanceTime("30 days");
      expect(await env.result(id)).toEqual({ sleptMs: 30 * 86_400_000 });
    }
    // The start, then one invocation per 900 s until the timer's own.
    expect(chained.stats.invocations).toBe(1 + (30 * 86_400) / 900);
    expect(held.stats.invocations).toBe(2);
  });

  it("backs engine retries off on the test clock, and dead-letters the wake-up once they are spent", async () => {
    const env = await createTestEnvironment({ workflows: [nonRetryable], startTimeMs: Date.UTC(2026, 0, 1), workerOptions: { engineRetries: { maxRetries: 2 } } });
    vi.spyOn(env.store, "commit").mockRejectedValue(new Error("injected: the disk is on fire"));
    const id = await env.start(nonRetryable, null);
    expect((await env.execution(id)).status).toBe("running");
    expect(env.stats.invocations).toBe(1);
    // Retry 1 comes back after 2 s (+ jitter), retry 2 after 4 s, then the engine gives up.
    await env.advanceTime("1s");
    expect(env.stats.invocations).toBe(1);
    await env.advanceTime("1 minute");
    expect(env.stats.invocations).toBe(3);
    expect(await env.execution(id)).toMatchObject({ status: "failed", error: { code: "ENGINE_RETRIES_EXHAUSTED" } });
    expect(env.deadLetters()).toEqual([{ body: JSON.stringify({ executionId: id }), reason: "dead-lettered", details: expect.objectContaining({ code: "ENGINE_RETRIES_EXHAUSTED" }) }]);
    await env.close();
  });
});
