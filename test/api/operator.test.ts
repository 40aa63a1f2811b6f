/**
 * `POST /executions/{id}/terminate` and `/redrive` over HTTP, against the local stack: 202 with
 * what happened, the caller recorded when API Gateway names one, and clear refusals (404, 409
 * EXECUTION_ENDED, 409 EXECUTION_NOT_FAILED, 400) that write nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { defineWorkflow } from "../../lambdas/index.js";
import { apiEvent, callHandler } from "../support/api-events.js";
import type { LocalStack } from "../../local/stack.js";
import { call, expectErrorShape, expectNothingWritten, startApiStack, waitForStatus } from "./support.js";

let broken = true;
const flaky = defineWorkflow("op-flaky", async (ctx) => {
  const first = await ctx.step("first", () => "one");
  const second = await ctx.step("second", () => {
    if (broken) throw new Error("upstream is down");
    return "two";
  }, { retry: { maxAttempts: 1 } });
  return `${first}+${second}`;
});
const napper = defineWorkflow("op-napper", async (ctx) => {
  await ctx.sleep("nap", "1 day");
  return "up";
});

let stack: LocalStack;
beforeAll(async () => {
  stack = await startApiStack("api-operator", [flaky, napper]);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("operator actions over HTTP", () => {
  it("terminates a sleeping execution (202), then refuses a second terminate and a redrive with 409, writing nothing", async () => {
    expect((await call(stack, "POST", "/executions", { body: { workflow: "op-napper", id: "nap-1" } })).status).toBe(201);
    await waitForStatus(stack, "nap-1", ["sleeping"]);
    const answer = await call(stack, "POST", "/executions/nap-1/terminate", { body: { reason: "not needed" } });
    expect([answer.status, answer.body]).toEqual([202, { id: "nap-1", terminated: true }]);
    expect((await call(stack, "GET", "/executions/nap-1")).body).toMatchObject({ status: "terminated", error: { code: "TERMINATED", message: "terminated: not needed" } });
    const history = await call(stack, "GET", "/executions/nap-1/history");
    expect(history.body.events.at(-1)).toMatchObject({ type: "ExecutionTerminated", reason: "not needed" });

    const again = await expectNothingWritten(stack, () => call(stack, "POST", "/executions/nap-1/terminate"));
    expect(again.status).toBe(409);
    expectErrorShape(again, "EXECUTION_ENDED");
    const redrive = await expectNothingWritten(stack, () => call(stack, "POST", "/executions/nap-1/redrive"));
    expect(redrive.status).toBe(409);
    expectErrorShape(redrive, "EXECUTION_NOT_FAILED");
  });

  it("redrives a failed execution (202 with the redrive count) and it completes without running its first step again", async () => {
    broken = true;
    expect((await call(stack, "POST", "/executions", { body: { workflow: "op-flaky", id: "flaky-1" } })).status).toBe(201);
    const failed = await waitForStatus(stack, "flaky-1", ["failed"]);
    expect(failed.body.error).toMatchObject({ code: "STEP_FAILED" });
    broken = false;
    const answer = await call(stack, "POST", "/executions/flaky-1/redrive", { body: { reason: "upstream is back" } });
    expect([answer.status, answer.body]).toEqual([202, { id: "flaky-1", run: 1, redrive: 1 }]);
    const done = await waitForStatus(stack, "flaky-1", ["completed"]);
    expect(done.body.output).toBe("one+two");
    const events = (await call(stack, "GET", "/executions/flaky-1/history")).body.events as { type: string; name?: string; reason?: string }[];
    expect(events.filter((e) => e.type === "StepCompleted").map((e) => e.name)).toEqual(["first", "second"]);
    expect(events.find((e) => e.type === "ExecutionRedriven")).toMatchObject({ reason: "upstream is back", redrive: 1 });
    expectErrorShape(await call(stack, "POST", "/executions/flaky-1/redrive"), "EXECUTION_NOT_FAILED");
  });

  it("refuses unknown ids (404), malformed ids and bodies (400), other methods (405), writing nothing", async () => {
    for (const action of ["terminate", "redrive"]) {
      const unknown = await expectNothingWritten(stack, () => call(stack, "POST", `/executions/nobody/${action}`));
      expect(unknown.status).toBe(404);
      expectErrorShape(unknown, "EXECUTION_NOT_FOUND");
      const badBody = await expectNothingWritten(stack, () => call(stack, "POST", `/executions/nap-1/${action}`, { body: { reason: 7 } }));
      expect(badBody.status).toBe(400);
      expectErrorShape(badBody, "INVALID_INPUT");
      expect((await call(stack, "GET", `/executions/nap-1/${action}`)).status).toBe(405);
    }
  });

  it("records who asked, as API Gateway's IAM authorizer names the caller", async () => {
    expect((await call(stack, "POST", "/executions", { body: { workflow: "op-napper", id: "nap-iam" } })).status).toBe(201);
    await waitForStatus(stack, "nap-iam", ["sleeping"]);
    const handler = createApiHandler(stack.apiDeps);
    const response = await callHandler(handler, apiEvent("POST", "/executions/nap-iam/terminate", { body: { reason: "rotating" }, principal: "arn:aws:sts::123456789012:assumed-role/ops/alice" }));
    expect(response.statusCode).toBe(202);
    const history = await call(stack, "GET", "/executions/nap-iam/history");
    expect(history.body.events.at(-1)).toMatchObject({ type: "ExecutionTerminated", reason: "rotating", by: "arn:aws:sts::123456789012:assumed-role/ops/alice" });
  });
});
