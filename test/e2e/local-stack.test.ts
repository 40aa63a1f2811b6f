/**
 * End to end: the local stack over HTTP, exactly as a user drives it with curl.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { workflows } from "../../examples/index.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { uniqueName } from "../support/services.js";

async function call(stack: LocalStack, method: string, path: string, body?: unknown) {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.bearerToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function waitForStatus(stack: LocalStack, id: string, statuses: string[], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(stack, "GET", `/executions/${id}`);
    if (statuses.includes(String(body.status))) return body;
    if (Date.now() > deadline) throw new Error(`execution ${id} still ${String(body.status)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the local stack over HTTP", () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      workflows,
      endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
      tableName: uniqueName("e2e"),
      queueName: uniqueName("e2e"),
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("starts an execution that completes with the right output and one history event per step", async () => {
    const started = await call(stack, "POST", "/executions", { workflow: "greet", input: { name: "  Ada   Lovelace " } });
    expect(started.status).toBe(201);
    const id = String(started.body.id);
    const done = await waitForStatus(stack, id, ["completed", "failed"]);
    expect(done.status).toBe("completed");
    expect(done.output).toMatchObject({ greeting: "Hello, Ada Lovelace!", shouted: "HELLO, ADA LOVELACE!" });
    const history = await call(stack, "GET", `/executions/${id}/history`);
    const events = history.body.events as { type: string; name?: string }[];
    expect(events.filter((e) => e.type === "StepCompleted").map((e) => e.name)).toEqual(["normalize", "compose", "shout"]);
    expect(events[0]?.type).toBe("ExecutionStarted");
    expect(events[events.length - 1]?.type).toBe("ExecutionCompleted");
  });

  it("answers 400 with an error code for an unknown workflow and writes nothing", async () => {
    const response = await call(stack, "POST", "/executions", { workflow: "nope", input: {}, id: "never-written" });
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: { code: "WORKFLOW_NOT_FOUND", message: expect.any(String) } });
    expect((await call(stack, "GET", "/executions/never-written")).status).toBe(404);
  });

  it("runs an approval flow to completion when the signal arrives over HTTP", async () => {
    const started = await call(stack, "POST", "/executions", { workflow: "approval", input: { request: "laptop" } });
    const id = String(started.body.id);
    await waitForStatus(stack, id, ["sleeping"]);
    const signal = await call(stack, "POST", `/executions/${id}/signals/decision`, { approved: true, by: "ana" });
    expect(signal.status).toBe(202);
    const done = await waitForStatus(stack, id, ["completed", "failed"]);
    expect(done.output).toEqual({ request: "laptop", status: "approved", by: "ana" });
    // A finished execution takes no more signals.
    const late = await call(stack, "POST", `/executions/${id}/signals/decision`, { approved: false });
    expect(late.status).toBe(409);
    expect((late.body.error as { code: string }).code).toBe("EXECUTION_ENDED");
  });
});

describe("npm start", () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "durable-start-"));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("boots the stack, runs the demo to completion, prints its history and stops cleanly", async () => {
    const output = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "local/start.ts"], {
        env: { ...process.env, PORT: "0", DURABLE_EXIT_AFTER_DEMO: "1", DURABLE_DATA_DIR: dataDir },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString()));
      child.stderr.on("data", (d: Buffer) => (text += d.toString()));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`npm start did not finish:\n${text}`));
      }, 90_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, text });
      });
    });
    expect(output.text).toContain("status: completed");
    expect(output.text).toContain("StepCompleted \"shout\"");
    expect(output.text).toContain("ExecutionCompleted");
    expect(output.code).toBe(0);
  }, 120_000);

  it("keeps executions across a restart: a waiting approval completes after the stack comes back", async () => {
    const dir = join(dataDir, "restart");
    const first = await startLocalStack({ workflows, dataDir: dir, queueName: uniqueName("restart") });
    // A request large enough to live in the S3 emulator, which keeps nothing across its restart.
    const request = `desk ${"d".repeat(100_000)}`;
    const started = await call(first, "POST", "/executions", { workflow: "approval", input: { request } });
    const id = String(started.body.id);
    await waitForStatus(first, id, ["sleeping"]);
    await first.stop();

    const second = await startLocalStack({ workflows, dataDir: dir, queueName: uniqueName("restart") });
    try {
      expect((await call(second, "GET", `/executions/${id}`)).body.status).toBe("sleeping");
      await call(second, "POST", `/executions/${id}/signals/decision`, { approved: true, by: "bo" });
      const done = await waitForStatus(second, id, ["completed", "failed"]);
      expect(done.output).toEqual({ request, status: "approved", by: "bo" });
    } finally {
      await second.stop();
    }
  }, 120_000);
});
