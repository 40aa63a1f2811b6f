/**
 * The callback routes over real HTTP on the local stack (DynamoDB Local, the SQS emulator, the
 * worker): 202 and the workflow resumes; every refusal has its status and code and leaves the
 * table exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_API_VALUE_BYTES } from "../../lambdas/core/limits.js";
import { CallbackFailedError, defineWorkflow } from "../../lambdas/index.js";
import { decodeCallbackToken, encodeCallbackToken } from "../../lambdas/core/callbacks.js";
import type { LocalStack } from "../../local/stack.js";
import { call, snapshotTable, startApiStack } from "./support.js";

const tokens = new Map<string, string>();

const scan = defineWorkflow("scan-document", async (ctx, input: { doc: string }) => {
  try {
    const text = await ctx.waitForCallback<{ text: string }>("ocr", (token) => void tokens.set(input.doc, token), { timeout: "1h", heartbeatTimeout: "5 minutes" });
    return { doc: input.doc, text: text.text };
  } catch (err) {
    if (err instanceof CallbackFailedError) return { doc: input.doc, failed: err.failure.message, code: err.failure.code };
    throw err;
  }
});

let stack: LocalStack;
beforeAll(async () => {
  stack = await startApiStack("callbacks", [scan]);
});
afterAll(async () => {
  await stack?.stop();
});

async function started(doc: string): Promise<{ id: string; token: string }> {
  const answer = await call(stack, "POST", "/executions", { body: { workflow: "scan-document", input: { doc } } });
  expect(answer.status).toBe(201);
  const id = answer.body.id as string;
  const deadline = Date.now() + 15_000;
  while (!tokens.has(doc) || (await call(stack, "GET", `/executions/${id}`)).body.status !== "sleeping") {
    if (Date.now() > deadline) throw new Error(`${doc} never waited for its callback`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { id, token: tokens.get(doc) as string };
}

async function ended(id: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { body } = await call(stack, "GET", `/executions/${id}`);
    if (["completed", "failed", "canceled"].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`${id} did not end`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("POST /callbacks/{token}", () => {
  it("202: completes the callback with the JSON body, and the execution finishes with it", async () => {
    const { id, token } = await started("invoice-1");
    const heartbeat = await call(stack, "POST", `/callbacks/${token}/heartbeat`);
    expect(heartbeat.status).toBe(200);
    expect(Date.parse(heartbeat.body.heartbeatDeadline)).toBeGreaterThan(Date.now());
    const answer = await call(stack, "POST", `/callbacks/${token}`, { body: { text: "total: 42 EUR" } });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ accepted: true });
    expect(await ended(id)).toMatchObject({ status: "completed", output: { doc: "invoice-1", text: "total: 42 EUR" } });
  });

  it("202 on /fail: the workflow catches CallbackFailedError with the message and code sent", async () => {
    const { id, token } = await started("invoice-2");
    expect((await call(stack, "POST", `/callbacks/${token}/fail`, { body: { message: "unreadable scan", code: "UNREADABLE" } })).status).toBe(202);
    expect(await ended(id)).toMatchObject({ status: "completed", output: { doc: "invoice-2", failed: "unreadable scan", code: "UNREADABLE" } });
  });

  it("refuses with the right status and code, and writes nothing", async () => {
    const { id, token } = await started("invoice-3");
    const ref = decodeCallbackToken(token)!;
    const before = await snapshotTable(stack);
    const cases: [string, unknown, number, string][] = [
      [`/callbacks/not-a-token`, { text: "x" }, 400, "INVALID_CALLBACK_TOKEN"],
      [`/callbacks/${encodeCallbackToken({ ...ref, callbackId: "B".repeat(22) })}`, { text: "x" }, 404, "CALLBACK_NOT_FOUND"],
      [`/callbacks/${encodeCallbackToken({ ...ref, executionId: "nobody" })}`, { text: "x" }, 404, "CALLBACK_NOT_FOUND"],
      [`/callbacks/${encodeCallbackToken({ ...ref, position: ref.position + 3 })}/heartbeat`, undefined, 404, "CALLBACK_NOT_FOUND"],
      [`/callbacks/${token}/fail`, { message: 5 }, 400, "INVALID_INPUT"],
      [`/callbacks/${token}/fail`, { reason: "unknown key" }, 400, "INVALID_INPUT"],
      [`/callbacks/${token}`, { text: "x".repeat(MAX_API_VALUE_BYTES) }, 413, "PAYLOAD_TOO_LARGE"],
    ];
    for (const [path, body, status, code] of cases) {
      const answer = await call(stack, "POST", path, body === undefined ? {} : { body });
      expect({ path: path.slice(0, 40), status: answer.status, code: answer.body?.error?.code }).toEqual({ path: path.slice(0, 40), status, code });
    }
    expect(await snapshotTable(stack)).toEqual(before);

    // Answered once: a second answer is 409 and changes nothing.
    expect((await call(stack, "POST", `/callbacks/${token}`, { body: { text: "ok" } })).status).toBe(202);
    await ended(id);
    const after = await snapshotTable(stack);
    const again = await call(stack, "POST", `/callbacks/${token}`, { body: { text: "again" } });
    expect(again.status).toBe(409);
    expect(["CALLBACK_ALREADY_COMPLETED", "EXECUTION_ENDED"]).toContain(again.body.error.code);
    expect(await snapshotTable(stack)).toEqual(after);
  });
});
