/**
 * `durable dev` and the operator commands meeting through `.durable/dev.json`: the server writes
 * it (mode 0600: it holds the token) once it serves and removes it when it stops; the `durable`
 * bin, run as a real process from a subfolder of the project, finds the server through it with no
 * --url, and says what to do once it is gone. Also checks the exit codes as a shell sees them.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDevOptions } from "../../../local/cli/dev/options.js";
import { type DevServer, startDevServer } from "../../../local/cli/dev/run-dev.js";

const BIN = fileURLToPath(new URL("../../../local/cli/durable.ts", import.meta.url));
/** tsx's loader by path: the commands run in the user's folders, where no tsx can be found. */
const TSX = new URL("../../../node_modules/tsx/dist/loader.mjs", import.meta.url).href;
const token = "discovery-test-token";

let dir: string;
let server: DevServer | undefined;
const printed: string[] = [];

/** The `durable` bin in a process of its own, as a shell runs it, without any connection variables. */
function durable(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const name of ["DURABLE_URL", "DURABLE_TOKEN"]) delete env[name];
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", TSX, BIN, ...args], { cwd, env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "durable-dev-discovery-"));
  await writeFile(join(dir, "package.json"), '{ "name": "discovery-app", "private": true, "type": "module" }\n');
  await writeFile(
    join(dir, "workflows.ts"),
    `export const workflows = [{ name: "greet", version: 1, fn: async (ctx: any, input: { name: string }) => ctx.step("compose", () => "Hello, " + input.name + "!") }];\n`,
  );
  await mkdir(join(dir, "src", "deep"), { recursive: true });
  const options = await resolveDevOptions({ port: 0, token, inMemory: true, watch: false }, { cwd: dir, env: {} });
  server = await startDevServer(options, { print: (text) => printed.push(text) });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("durable dev's discovery file", () => {
  it("is written once the server answers, readable by its owner only, and the bin finds the server through it from a subfolder", async () => {
    const file = join(dir, ".durable", "dev.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const discovery = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    expect(discovery).toEqual({ url: server?.stack.apiUrl, token, pid: process.pid, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) });
    expect(printed.join("\n")).toContain("npx durable list");

    const deep = join(dir, "src", "deep");
    const started = await durable(["start", "greet", "--input", '{"name":"Ada"}', "--id", "found-1"], deep);
    expect(started).toEqual({ code: 0, stdout: "found-1\n", stderr: "" });
    const result = await durable(["result", "found-1", "--timeout", "20s"], deep);
    expect(result).toEqual({ code: 0, stdout: '"Hello, Ada!"\n', stderr: "" });

    // Exit codes as the shell sees them, from the process itself.
    const missing = await durable(["get", "nope"], deep);
    expect(missing).toEqual({ code: 3, stdout: "", stderr: 'durable: EXECUTION_NOT_FOUND: no execution with id "nope"\n' });
  }, 60_000);

  it("is removed when the server stops, and the commands then say there is no durable dev", async () => {
    await server?.stop();
    server = undefined;
    await expect(stat(join(dir, ".durable", "dev.json"))).rejects.toMatchObject({ code: "ENOENT" });
    const after = await durable(["list"], join(dir, "src"));
    expect(after.code).toBe(5);
    expect(after.stderr).toBe(`durable: NO_DEV_SERVER: no durable dev found (looked for .durable/dev.json from ${join(dir, "src")} up); start one with "npx durable dev", or pass --url\n`);
  }, 60_000);
});
