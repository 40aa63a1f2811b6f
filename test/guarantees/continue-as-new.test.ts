/**
 * Signals a run received and did not consume carry over to the next run, in order: the eternal
 * loop pattern fed jobs 1..4 in one burst sees all four, whether the next run goes on in the same
 * turn (in memory) or in a later turn on a cold worker (read back from history).
 * Real worker, real API over HTTP, DynamoDB Local and the SQS emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { RunCache } from "../../lambdas/engine/run-cache.js";
import { drainIntoWorker } from "../worker/harness.js";
import { type GuaranteeWorld, guaranteeWorld, inboxSize } from "./support.js";

const jobs = defineWorkflow("jobs", async (ctx, input: { seen: number[]; pause: boolean }) => {
  const job = await ctx.waitForSignal<number>("job");
  await ctx.step("do", () => job);
  // A pause ends the turn: the next run then starts on a cold worker, from what history says.
  if (input.pause) await ctx.sleep("pause", 10);
  const seen = [...input.seen, job];
  if (seen.length === 4) return { seen, run: ctx.run };
  return ctx.continueAsNew({ seen, pause: input.pause });
});

describe("continue-as-new with signals buffered", () => {
  let g: GuaranteeWorld;
  beforeAll(async () => {
    g = await guaranteeWorld("can", [jobs]);
  });
  afterAll(async () => g.close());

  it.each([
    { name: "the next runs go on in the same turn, warm", pause: false, warm: true },
    { name: "each next run starts in a later turn on a cold worker", pause: true, warm: false },
  ])("carries every unconsumed signal into the next run, in order: $name", async ({ pause, warm }) => {
    const id = `jobs-${pause ? "cold" : "warm"}`;
    g.apiSends.failing = true; // the burst lands before any worker looks
    await g.api("POST", "/executions", { workflow: "jobs", id, input: { seen: [], pause } });
    for (const job of [1, 2, 3, 4]) expect((await g.api("POST", `/executions/${id}/signals/job`, job)).status).toBe(202);
    g.apiSends.failing = false;
    await g.sweep();
    const worker = g.worker(warm ? { runCache: new RunCache() } : {});
    await drainIntoWorker(g.world, worker, { quietMs: 1_500, timeoutMs: 30_000 });
    expect(await g.world.store.getExecution(id)).toMatchObject({ status: "completed", output: { seen: [1, 2, 3, 4], run: 4 } });
    expect(await inboxSize(g.world, id)).toBe(0);
    // Each signal is in history once (in the run that took it in), and carried by reference.
    const { events } = await g.world.store.readHistory(id);
    expect(events.filter((e) => e.type === "SignalReceived")).toHaveLength(4);
  }, 60_000);
});
