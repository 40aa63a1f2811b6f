import { describe, expect, it } from "vitest";
import { CancelledError, defineWorkflow, NonRetryableError, StepFailedError } from "../../lambdas/index.js";
import { MemoryExecution } from "../support/memory-engine.js";

describe("replay", () => {
  it("records each step result once and returns it from history on replay without re-running the body", async () => {
    const calls: Record<string, number> = { a: 0, b: 0 };
    const wf = defineWorkflow("two-steps", async (ctx, input: { x: number }) => {
      const a = await ctx.step("a", () => (calls.a = (calls.a ?? 0) + 1, input.x + 1));
      await ctx.sleep("nap", "1 minute");
      const b = await ctx.step("b", () => (calls.b = (calls.b ?? 0) + 1, a * 10));
      return { a, b };
    });
    const exec = new MemoryExecution(wf, { x: 1 });
    const first = await exec.turn();
    expect(first.outcome).toEqual({ kind: "sleeping", nextWakeAtMs: exec.nowMs + 60_000 });
    expect(calls).toEqual({ a: 1, b: 0 });

    // An early wake-up changes nothing.
    await exec.turn();
    expect(calls).toEqual({ a: 1, b: 0 });

    exec.advance(60_000);
    const second = await exec.turn();
    expect(second.outcome).toEqual({ kind: "completed", output: { a: 2, b: 20 } });
    expect(calls).toEqual({ a: 1, b: 1 });
    expect(exec.history.filter((e) => e.type === "StepCompleted")).toHaveLength(2);

    // Replaying a finished history from scratch runs no step body, and the finished execution
    // cannot be ended again.
    await expect(exec.turn()).rejects.toMatchObject({ code: "INVALID_TRANSITION" });
    expect(calls).toEqual({ a: 1, b: 1 });
  });

  it("commits a plain step result as a batch of one event with no execution update", async () => {
    const wf = defineWorkflow("steps", async (ctx) => {
      for (let i = 0; i < 3; i += 1) await ctx.step(`s${i}`, () => i);
      return "ok";
    });
    const exec = new MemoryExecution(wf, null);
    exec.status = "running";
    await exec.turn();
    const stepCommits = exec.commits.filter((c) => c.events.some((e) => e.type === "StepCompleted"));
    expect(stepCommits).toHaveLength(3);
    for (const c of stepCommits) {
      expect(c.events).toHaveLength(1);
      expect(c.execution).toBeUndefined();
    }
    expect(exec.status).toBe("completed");
  });

  it("fails the execution with the error when the workflow throws", async () => {
    const wf = defineWorkflow("throws", async () => {
      throw new TypeError("boom");
    });
    const exec = new MemoryExecution(wf, null);
    const result = await exec.turn();
    expect(result.outcome.kind).toBe("failed");
    expect(exec.status).toBe("failed");
    const last = exec.history[exec.history.length - 1];
    expect(last).toMatchObject({ type: "ExecutionFailed", error: { name: "TypeError", message: "boom" } });
  });

  it("reports non-determinism naming the position, the recorded call and the call found", async () => {
    const v1 = defineWorkflow("nd", async (ctx) => {
      await ctx.step("charge", () => 1);
      await ctx.sleep("wait", "1h");
      return "done";
    });
    const exec = new MemoryExecution(v1, null);
    await exec.turn();
    const v2 = defineWorkflow("nd", async (ctx) => {
      await ctx.step("refund", () => 1);
      return "done";
    });
    exec.advance(3_600_000);
    const result = await exec.turn({ definition: v2 });
    expect(result.outcome.kind).toBe("failed");
    const failed = exec.history[exec.history.length - 1];
    expect(failed).toMatchObject({ type: "ExecutionFailed", error: { code: "NON_DETERMINISM" } });
    expect(JSON.stringify(failed)).toContain('step \\"charge\\"');
    expect(JSON.stringify(failed)).toContain('step \\"refund\\"');
  });

  it("retries a failing step per its policy, spacing attempts, then succeeds", async () => {
    let attempts = 0;
    const seen: { attempt: number; key: string }[] = [];
    const wf = defineWorkflow("flaky", async (ctx) =>
      ctx.step(
        "flaky",
        ({ attempt, idempotencyKey }) => {
          attempts += 1;
          seen.push({ attempt, key: idempotencyKey });
          if (attempt < 3) throw new Error(`fail ${attempt}`);
          return "ok";
        },
        { retry: { maxAttempts: 5, initialInterval: "10s", backoffCoefficient: 3 } },
      ),
    );
    const exec = new MemoryExecution(wf, null);
    const r1 = await exec.turn();
    // random() = 0.5 → 10 % jitter taken off: 9 s, then 27 s.
    expect(r1.outcome).toEqual({ kind: "sleeping", nextWakeAtMs: exec.nowMs + 9_000 });
    exec.advance(9_000);
    const r2 = await exec.turn();
    expect(r2.outcome).toEqual({ kind: "sleeping", nextWakeAtMs: exec.nowMs + 27_000 });
    exec.advance(27_000);
    const r3 = await exec.turn();
    expect(r3.outcome).toEqual({ kind: "completed", output: "ok" });
    expect(attempts).toBe(3);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(exec.types().filter((t) => t === "StepAttemptFailed")).toHaveLength(2);
  });

  it("lets the workflow catch a step that failed for good, and stops at a non-retryable error", async () => {
    let runs = 0;
    const wf = defineWorkflow("compensate", async (ctx) => {
      try {
        await ctx.step("pay", () => {
          runs += 1;
          throw new NonRetryableError("declined");
        });
        return "paid";
      } catch (err) {
        if (err instanceof StepFailedError) return `compensated after ${err.attempts}: ${err.failure.message}`;
        throw err;
      }
    });
    const exec = new MemoryExecution(wf, null);
    const result = await exec.turn();
    expect(result.outcome).toEqual({ kind: "completed", output: "compensated after 1: declined" });
    expect(runs).toBe(1);
  });

  it("keeps signals that arrive before the wait and hands them out in arrival order", async () => {
    const wf = defineWorkflow("signals", async (ctx) => {
      await ctx.step("first", () => 1);
      const a = await ctx.waitForSignal<string>("item");
      const b = await ctx.waitForSignal<string>("item");
      return [a, b];
    });
    const exec = new MemoryExecution(wf, null);
    exec.signal("item", "one");
    exec.signal("item", "two");
    const result = await exec.turn();
    expect(result.outcome).toEqual({ kind: "completed", output: ["one", "two"] });
    expect(exec.inbox).toHaveLength(0);
  });

  it("resolves a signal wait with undefined when its timeout passes", async () => {
    const wf = defineWorkflow("timeout", async (ctx) => {
      const decision = await ctx.waitForSignal<boolean>("approved", { timeout: "24h" });
      return decision === undefined ? "expired" : decision;
    });
    const exec = new MemoryExecution(wf, null);
    const r1 = await exec.turn();
    expect(r1.outcome).toEqual({ kind: "sleeping", nextWakeAtMs: exec.nowMs + 86_400_000 });
    exec.advance(86_400_000);
    const r2 = await exec.turn();
    expect(r2.outcome).toEqual({ kind: "completed", output: "expired" });
  });

  it("throws CancelledError at the next durable call and runs cleanup in a non-cancellable scope", async () => {
    let cleaned = 0;
    const wf = defineWorkflow("cancel", async (ctx) => {
      try {
        await ctx.sleep("long", "30 days");
        return "finished";
      } catch (err) {
        if (err instanceof CancelledError) {
          await ctx.nonCancellable((c) => c.step("cleanup", () => (cleaned += 1)));
        }
        throw err;
      }
    });
    const exec = new MemoryExecution(wf, null);
    await exec.turn();
    exec.send({ type: "Cancel", reason: "user asked" });
    const result = await exec.turn();
    expect(result.outcome).toEqual({ kind: "canceled", reason: "user asked" });
    expect(cleaned).toBe(1);
    expect(exec.status).toBe("canceled");
  });

  it("replays Promise.all and Promise.race over steps, sleeps and signals identically", async () => {
    const bodies: string[] = [];
    const wf = defineWorkflow("parallel", async (ctx) => {
      const [x, y] = await Promise.all([
        ctx.step("x", () => (bodies.push("x"), "X")),
        ctx.step("y", () => (bodies.push("y"), "Y")),
      ]);
      const winner = await Promise.race([
        ctx.waitForSignal<string>("go").then((v) => `signal:${v}`),
        ctx.sleep("deadline", "1h").then(() => "timer"),
      ]);
      return { x, y, winner, r: ctx.random(), u: ctx.uuid() };
    });
    const exec = new MemoryExecution(wf, null);
    await exec.turn();
    exec.advance(1000);
    exec.signal("go", "now");
    const done = await exec.turn();
    expect(done.outcome.kind).toBe("completed");
    const output = (done.outcome as { output: { x: string; y: string; winner: string; r: number; u: string } }).output;
    expect(output).toMatchObject({ x: "X", y: "Y", winner: "signal:now" });
    expect(bodies.sort()).toEqual(["x", "y"]);
    // A cold replay of the finished history computes the same values and runs nothing.
    const again = new MemoryExecution(wf, null);
    again.history = exec.history.slice(0, -1);
    const replayed = await again.turn();
    expect(replayed.outcome).toEqual(done.outcome);
    expect(bodies).toHaveLength(2);
  });

  it("yields with work left when the invocation runs out of time, and continues next turn", async () => {
    // Each step takes 6 s of a 25 s invocation; no step starts with 10 s or less left.
    let remainingMs = 25_000;
    const wf = defineWorkflow("long", async (ctx) => {
      let sum = 0;
      for (let i = 0; i < 5; i += 1) sum += await ctx.step(`s${i}`, () => ((remainingMs -= 6_000), i));
      return sum;
    });
    const exec = new MemoryExecution(wf, null);
    const first = await exec.turn({ remainingMs: () => remainingMs });
    expect(first.outcome).toEqual({ kind: "yielded" });
    expect(exec.types().filter((t) => t === "StepCompleted")).toHaveLength(3);
    remainingMs = 60_000;
    const second = await exec.turn();
    expect(second.outcome).toEqual({ kind: "completed", output: 10 });
  });

  it("records a timer that fell due before a racing step ended first, however late the driver looks", async () => {
    const wf = defineWorkflow("late-look", async (ctx) =>
      Promise.race([ctx.step("slow", () => new Promise((resolve) => setTimeout(() => resolve("step"), 150))), ctx.sleep("short", 50).then(() => "timer")]),
    );
    const exec = new MemoryExecution(wf, null);
    // Real time for the timer (the memory engine's clock is fixed otherwise).
    let now = exec.nowMs;
    const startedAt = Date.now();
    Object.defineProperty(exec, "nowMs", { get: () => now + (Date.now() - startedAt), set: (v: number) => (now = v) });
    // The first commit (the timer's record) stalls past both the timer and the step.
    let stalls = 1;
    exec.beforeCommit = async () => {
      if (stalls-- > 0) await new Promise((resolve) => setTimeout(resolve, 400));
    };
    const result = await exec.turn();
    expect(result.outcome).toEqual({ kind: "completed", output: "timer" });
    expect(exec.types()).toEqual(["ExecutionStarted", "TimerStarted", "TimerFired", "ExecutionCompleted"]);
  });

  it("waits for a running step without spinning", async () => {
    const wf = defineWorkflow("patient", async (ctx) => ctx.step("slow", () => new Promise((resolve) => setTimeout(() => resolve("done"), 300))));
    const exec = new MemoryExecution(wf, null);
    const result = await exec.turn();
    expect(result.outcome).toEqual({ kind: "completed", output: "done" });
    expect(exec.clockReads).toBeLessThan(50);
  });

  it("fails clearly when the workflow awaits something that is not a durable call", async () => {
    const wf = defineWorkflow("bare-await", async () => {
      await new Promise((r) => setTimeout(r, 50));
      return "never";
    });
    const exec = new MemoryExecution(wf, null);
    const result = await exec.turn();
    expect(result.outcome).toMatchObject({ kind: "failed", error: { code: "UNSUPPORTED_AWAIT" } });
  });

  it("continues as new with a fresh history under the same id", async () => {
    const wf = defineWorkflow("poller", async (ctx, input: { n: number }) => {
      await ctx.step("poll", () => input.n);
      if (input.n < 3) return ctx.continueAsNew({ n: input.n + 1 });
      return { polls: input.n };
    });
    const exec = new MemoryExecution(wf, { n: 1 });
    const result = await exec.settle();
    expect(result.outcome).toEqual({ kind: "completed", output: { polls: 3 } });
    expect(exec.types().filter((t) => t === "ContinuedAsNew")).toHaveLength(2);
    const starts = exec.history.filter((e) => e.type === "ExecutionStarted");
    expect(starts.map((s) => (s as { run: number }).run)).toEqual([1, 2, 3]);
  });
});
