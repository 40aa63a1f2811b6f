/**
 * `durable dev` serving a project's workflows file and reloading it on save, as a user sees it
 * over HTTP: an execution already running carries on with the new code of its name and version
 * when the change fits its history, and fails with NON_DETERMINISM when it does not (a call
 * before its position changed). A save that does not build keeps the old code serving.
 */
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDevOptions } from "../../../local/cli/dev/options.js";
import { type DevServer, startDevServer } from "../../../local/cli/dev/run-dev.js";

let dir: string;
let server: DevServer;
const printed: string[] = [];
const token = "reload-test-token";

/** A workflows file of plain definitions: one step, a signal, one step. */
const workflowsFile = (firstStep: string, secondResult: string) => `
const flow = {
  name: "flow",
  version: 1,
  fn: async (ctx: any, input: { name: string }) => {
    await ctx.step(${JSON.stringify(firstStep)}, () => input.name);
    const said = await ctx.waitForSignal("go");
    return await ctx.step("finish", () => ${secondResult});
  },
};
export const workflows = [flow];
`;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms; durable dev printed:\n${printed.join("\n")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startWaiting(id: string): Promise<void> {
  expect((await api("POST", "/executions", { workflow: "flow", id, input: { name: id } })).status).toBe(201);
  await until(`${id} waiting for its signal`, async () => ((await api("GET", `/executions/${id}`)).json.status === "sleeping" ? true : undefined));
}

async function ended(id: string): Promise<Record<string, unknown>> {
  return until(`${id} ended`, async () => {
    const { json } = await api("GET", `/executions/${id}`);
    return ["completed", "failed", "canceled"].includes(String(json.status)) ? json : undefined;
  });
}

async function save(text: string): Promise<void> {
  const reloads = printed.filter((line) => / reload(ed|) /.test(line) || line.includes("reload failed")).length;
  // As an editor that saves atomically does: a build never reads the file half-written.
  await writeFile(join(dir, "workflows.ts.saving"), text);
  await rename(join(dir, "workflows.ts.saving"), join(dir, "workflows.ts"));
  await until("the reload", async () => (printed.filter((line) => / reload(ed|) /.test(line) || line.includes("reload failed")).length > reloads ? true : undefined));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "durable-dev-reload-"));
  await writeFile(join(dir, "package.json"), '{ "name": "reload-app", "private": true, "type": "module" }\n');
  await writeFile(join(dir, "workflows.ts"), workflowsFile("greet", '`old: ${said}`'));
  const options = await resolveDevOptions({ port: 0, token, inMemory: true, watch: true }, { cwd: dir, env: {} });
  server = await startDevServer(options, { print: (text) => printed.push(text) });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("durable dev reloading the workflows file", () => {
  it("runs a waiting execution on with the saved code when it fits the history, and fails one it no longer fits with NON_DETERMINISM", async () => {
    await startWaiting("fits");
    await startWaiting("breaks");

    // A change after the executions' position: replay still fits, the new code finishes them.
    await save(workflowsFile("greet", '`new: ${said}`'));
    expect(printed.some((line) => line.includes("reloaded workflows.ts: flow"))).toBe(true);
    expect((await api("POST", "/executions/fits/signals/go", "ok")).status).toBe(202);
    expect(await ended("fits")).toMatchObject({ status: "completed", output: "new: ok" });

    // A broken save: reported with what to fix, and the code loaded before keeps serving.
    await save("export const workflows = [;\n");
    expect(printed.some((line) => line.includes("reload failed") && line.includes("still serving"))).toBe(true);

    // The step before the wait renamed: the history of "breaks" no longer fits the code.
    await save(workflowsFile("welcome", '`new: ${said}`'));
    expect((await api("POST", "/executions/breaks/signals/go", "ok")).status).toBe(202);
    const broken = await ended("breaks");
    expect(broken.status).toBe("failed");
    expect(broken.error).toMatchObject({ code: "NON_DETERMINISM" });

    // A new execution runs the new code from the start.
    expect((await api("POST", "/executions", { workflow: "flow", id: "fresh", input: { name: "fresh" } })).status).toBe(201);
    expect((await api("POST", "/executions/fresh/signals/go", "later")).status).toBe(202);
    expect(await ended("fresh")).toMatchObject({ status: "completed", output: "new: later" });
  }, 120_000);
});
