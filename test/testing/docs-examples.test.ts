/** The examples of docs/testing.md and README's "Testing your workflows", run as written. */
import { afterEach, beforeEach, expect, it } from "vitest";
import { approval } from "../../examples/approval.js";
import { createTestEnvironment, replayHistory, type TestEnvironment } from "../../lambdas/testing/index.js";

let env: TestEnvironment;
beforeEach(async () => {
  env = await createTestEnvironment({ workflows: [approval], startTimeMs: Date.UTC(2026, 0, 1) });
});
afterEach(() => env.close());

it("docs/testing.md: applies the request once approved", async () => {
  const id = await env.start(approval, { request: "new laptop" });
  expect((await env.execution(id)).status).toBe("sleeping");
  await env.advanceTime("3 days");
  await env.signal(id, "decision", { approved: true, by: "ana" });
  expect(await env.result(id)).toEqual({ request: "new laptop", status: "approved", by: "ana" });
});

it("docs/testing.md: expires after 7 days without a decision", async () => {
  const id = await env.start(approval, { request: "new laptop" });
  await env.advanceTime("7 days");
  expect(await env.result(id)).toEqual({ request: "new laptop", status: "expired" });
  const history = await env.history(id);
  expect(history.map((e) => e.type)).toContain("SignalWaitTimedOut");
});

it("README: the environment, then the replay of the history it wrote", async () => {
  const id = await env.start(approval, { request: "laptop" });
  await env.advanceTime("3 days");
  await env.signal(id, "decision", { approved: true });
  expect(await env.result(id)).toMatchObject({ status: "approved" });
  await expect(replayHistory(approval, await env.history(id), { executionId: id })).resolves.toMatchObject({ status: "completed" });
});
