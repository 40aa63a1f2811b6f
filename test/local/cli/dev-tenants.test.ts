/**
 * `durable dev --tenant a --tenant b`: the flag is read as a list, checked, and the server
 * prints one token per tenant; each token sees its own tenant's executions alone (the same id
 * in both is two executions), the token of no tenant is refused, and the durable commands act
 * as the first tenant.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devCommand } from "../../../local/cli/commands/dev.js";
import { resolveDevOptions } from "../../../local/cli/dev/options.js";
import { type DevServer, startDevServer } from "../../../local/cli/dev/run-dev.js";

let dir: string;
let server: DevServer;
const printed: string[] = [];

const workflowsFile = `
const hello = { name: "hello", version: 1, fn: async (ctx: any, input: { who: string }) => ctx.step("say", () => "hello " + input.who) };
export const workflows = [hello];
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "durable-dev-tenants-"));
  await writeFile(join(dir, "package.json"), '{ "name": "tenants-app", "private": true, "type": "module" }\n');
  await writeFile(join(dir, "workflows.ts"), workflowsFile);
  const options = await resolveDevOptions({ port: 0, token: "no-tenant-token", inMemory: true, watch: false, tenants: ["a", "b"] }, { cwd: dir, env: {} });
  server = await startDevServer(options, { print: (text) => printed.push(text) });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** The token the banner printed for `tenant`. */
function printedToken(tenant: string): string {
  const line = printed.join("\n").split("\n").find((l) => l.trim().startsWith(`tenant ${tenant} `));
  const token = line?.match(/token (\S+)$/)?.[1];
  if (!token) throw new Error(`no token printed for tenant ${tenant}:\n${printed.join("\n")}`);
  return token;
}

describe("durable dev --tenant", () => {
  it("reads --tenant as a list and refuses a bad tenant id", async () => {
    let flags: Record<string, unknown> = {};
    const command = devCommand().action((_file: unknown, given: Record<string, unknown>) => {
      flags = given;
    });
    await command.parseAsync(["--tenant", "a", "--tenant", "b"], { from: "user" });
    expect(flags.tenant).toEqual(["a", "b"]);
    await expect(resolveDevOptions({ tenants: ["no/slash"] }, { cwd: dir, env: {} })).rejects.toMatchObject({ code: "INVALID_TENANT" });
  });

  it("prints a token per tenant, and each sees its own executions alone", async () => {
    const a = printedToken("a");
    const b = printedToken("b");
    expect(a).not.toBe(b);
    for (const [token, who] of [[a, "ann"], [b, "bob"]] as const) {
      expect((await api(token, "POST", "/executions", { workflow: "hello", id: "same-id", input: { who } })).status).toBe(201);
    }
    for (const [token, who] of [[a, "ann"], [b, "bob"]] as const) {
      const deadline = Date.now() + 20_000;
      let seen = await api(token, "GET", "/executions/same-id");
      while (seen.json.status !== "completed" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await api(token, "GET", "/executions/same-id");
      }
      expect(seen.json).toMatchObject({ id: "same-id", status: "completed", output: `hello ${who}` });
      const listed = await api(token, "GET", "/executions");
      expect((listed.json.executions as { id: string }[]).map((e) => e.id)).toEqual(["same-id"]);
    }
    const refused = await api("no-tenant-token", "GET", "/executions");
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: "TENANT_REQUIRED" });
    // The durable commands find the server with the first tenant's token.
    const discovery = JSON.parse(await readFile(join(dir, ".durable", "dev.json"), "utf8")) as { token: string };
    expect(discovery.token).toBe(a);
  });
});
