/**
 * The package as a user gets it: `npm pack`, the tarball installed into a fresh app in a temporary
 * folder next to aws-cdk-lib and constructs (test/package/scratch-app), and there the user's four
 * paths: the app typechecks against the published declarations, `cdk synth` of a stack with
 * DurableWorkflows bundles the app's own workflows file, a test on `durable-aws/testing` runs in
 * memory with no Java on the PATH (and on DynamoDB Local with it), and `durable dev` serves the file while `durable-aws/client`
 * completes an execution through it. publint checks the very tarball installed.
 *
 * The install takes its packages from npm's cache first (`--prefer-offline`), at the versions the
 * repository's lock file holds, so a machine that ran `npm ci` needs no network for it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const fixture = join(repoRoot, "test", "package", "scratch-app");

/** The environment a user's shell would give: none of npm's, vitest's or this suite's own variables. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_OPTIONS$|TSX_|INIT_CWD$|DURABLE_TEST_)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? userEnv(), timeout: options.timeoutMs ?? 180_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

function expectOk(result: RunResult, what: string): void {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`);
}

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
let work: string;
let app: string;
let tarball: string;
let packedFiles: string[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "durable-aws-package-"));
  app = join(work, "app");

  // Packing runs `prepack`, the build.
  const packed = await run(npm, ["pack", "--json", "--pack-destination", work], { cwd: repoRoot, timeoutMs: 240_000 });
  expectOk(packed, "npm pack");
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  if (!info) throw new Error(`npm pack printed no package: ${packed.stdout}`);
  tarball = join(work, info.filename);
  packedFiles = info.files.map((f) => f.path);

  await cp(fixture, app, { recursive: true });
  const lock = JSON.parse(await readFile(join(repoRoot, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
  const locked = (name: string) => {
    const version = lock.packages[`node_modules/${name}`]?.version;
    if (!version) throw new Error(`${name} is not in the repository's lock file`);
    return version;
  };
  const manifest = {
    name: "orders-app",
    private: true,
    type: "module",
    dependencies: {
      "durable-aws": `file:${tarball}`,
      "aws-cdk-lib": locked("aws-cdk-lib"),
      constructs: locked("constructs"),
    },
    devDependencies: {
      tsx: locked("tsx"),
      typescript: locked("typescript"),
      "@types/node": locked("@types/node"),
    },
  };
  await writeFile(join(app, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  const installed = await run(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel", "error"], { cwd: app, timeoutMs: 300_000 });
  expectOk(installed, "npm install in the scratch app");
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the durable-aws package, installed into a user's app", () => {
  it("ships the build, its declarations and the CLI, and none of the repository's tests or sources", () => {
    expect(packedFiles).toContain("package.json");
    expect(packedFiles).toContain("README.md");
    for (const entry of ["dist/lambdas/index.js", "dist/lambdas/index.d.ts", "dist/lambdas/lambda.js", "dist/lib/index.js", "dist/lambdas/testing/index.js", "dist/local/testing.js", "dist/lambdas/client/index.js", "dist/local/cli/durable.js"]) {
      expect(packedFiles).toContain(entry);
    }
    const stray = packedFiles.filter((f) => /^(test|bench|examples|bin|lambdas|lib|local)\//.test(f) || (f.endsWith(".ts") && !f.endsWith(".d.ts")) || f.endsWith(".tsbuildinfo"));
    expect(stray).toEqual([]);
  });

  it("passes publint, suggestions included, on the tarball that was installed", async () => {
    const bytes = await readFile(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer }, level: "suggestion", strict: true });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  it("typechecks the app against the published declarations, typed client calls included", async () => {
    // src/client-run.ts holds a start with a wrong input under @ts-expect-error: were the client
    // untyped, that line would be an unused expectation and this would fail.
    expectOk(await run(process.execPath, [join(app, "node_modules", "typescript", "bin", "tsc"), "-p", "."], { cwd: app }), "tsc in the scratch app");
  }, 180_000);

  it("synthesizes a stack with DurableWorkflows that bundles the app's own workflows file", async () => {
    const outdir = join(work, "cdk.out");
    const synth = await run(process.execPath, [join(app, "node_modules", "tsx", "dist", "cli.mjs"), "bin/app.ts"], { cwd: app, env: userEnv({ CDK_OUTDIR: outdir }) });
    expectOk(synth, "cdk synth of the scratch app");
    const template = JSON.parse(await readFile(join(outdir, "ScratchOrders.template.json"), "utf8")) as { Resources: Record<string, { Type: string }>; Outputs: Record<string, unknown> };
    const types = Object.values(template.Resources).map((r) => r.Type);
    // The API, the worker, the sweeper, the cursor key's rotation, and the starter of the app's schedule.
    expect(types.filter((t) => t === "AWS::Lambda::Function")).toHaveLength(5);
    expect(types.filter((t) => t === "AWS::Scheduler::Schedule")).toHaveLength(1);
    expect(types).toContain("AWS::ApiGatewayV2::Api");
    expect(Object.keys(template.Outputs).some((k) => k.startsWith("OrdersApiUrl"))).toBe(true);

    // The worker's and the API's bundles hold the app's workflow; the entries live in the app.
    const assets = (await readdir(outdir)).filter((name) => name.startsWith("asset."));
    const withWorkflow: string[] = [];
    for (const asset of assets) {
      const code = await readFile(join(outdir, asset, "index.mjs"), "utf8").catch(() => "");
      if (code.includes('"ship-order"')) withWorkflow.push(asset);
    }
    expect(withWorkflow).toHaveLength(3);
    const entries = join(app, ".durable", "entries");
    const [hash] = await readdir(entries);
    expect((await readdir(join(entries, hash!))).sort()).toEqual(["api.ts", "cursorKeyRotation.ts", "starter.ts", "sweeper.ts", "worker.ts"]);
    expect(await readFile(join(entries, hash!, "worker.ts"), "utf8")).toContain('from "durable-aws/lambda"');
    // Nothing generated inside the installed package.
    const inPackage = await readdir(join(app, "node_modules", "durable-aws"));
    expect(inPackage.filter((name) => name.startsWith("."))).toEqual([]);
  }, 180_000);

  it("runs the app's workflow test on durable-aws/testing in memory, with no Java to be found", async () => {
    // Only node's own folder on the PATH: no java, no JAVA_HOME, no DynamoDB Local.
    const env = userEnv({ PATH: dirname(process.execPath), DURABLE_JAVA: join(work, "no-java-here") });
    delete env.JAVA_HOME;
    const result = await run(process.execPath, [join(app, "node_modules", "tsx", "dist", "cli.mjs"), "--test", "src/workflows.spec.ts"], { cwd: app, env, timeoutMs: 60_000 });
    expectOk(result, "the in-memory workflow test");
    expect(result.stdout).toMatch(/# pass 3\b/);
    expect(result.stdout).toMatch(/# fail 0\b/);
  }, 180_000);

  it("runs the same kind of test on durable-aws/testing/dynamodb-local (DynamoDB Local, the SQS emulator)", async () => {
    const result = await run(process.execPath, [join(app, "node_modules", "tsx", "dist", "cli.mjs"), "--test", "src/workflows.dynamodb.spec.ts"], { cwd: app, timeoutMs: 180_000 });
    expectOk(result, "the DynamoDB Local workflow test");
    expect(result.stdout).toMatch(/# pass 1\b/);
  }, 200_000);

  it("serves the app's file with durable dev and completes an execution through durable-aws/client", async () => {
    const token = "scratch-app-token";
    const { dev, output } = spawnDev("--no-watch", "--token", token);
    try {
      const apiUrl = await waitForApi(dev, output, 180_000);
      await waitFor(() => output().includes("schedules  "), 10_000, () => `durable dev listed no schedules:\n${output()}`);
      const out = output();
      expect(out).toContain("serving ship-order");
      expect(out).toMatch(/schedules {2}nightly-restock \(cron 0 2 \* \* \? \* Europe\/Berlin → ship-order\)/);
      const client = await run(process.execPath, [join(app, "node_modules", "tsx", "dist", "cli.mjs"), "src/client-run.ts", apiUrl, token], { cwd: app, timeoutMs: 90_000 });
      expectOk(client, `the client script (durable dev said:\n${output()})`);
      const result = JSON.parse(client.stdout.trim().split("\n").at(-1)!) as { id: string; output: unknown; label: string; history: string[] };
      expect(result.output).toEqual({ status: "shipped", reservationId: "res-lamp", label: "LABEL-lamp-3" });
      expect(result.history[0]).toBe("ExecutionStarted");
      expect(result.history.at(-1)).toBe("ExecutionCompleted");
      expect(result.history).toContain("SignalReceived");
      await waitFor(() => output().includes(`completed  ${result.id}`), 10_000, () => `durable dev never reported the end:\n${output()}`);
    } finally {
      const exited = new Promise<number | null>((done) => dev.once("exit", (code) => done(code)));
      dev.kill("SIGINT");
      expect(await exited).toBe(0);
    }
    // Executions are kept in the user's project, where a restart finds them.
    expect((await stat(join(app, ".durable", "data"))).isDirectory()).toBe(true);
  }, 300_000);
});

describe("the durable CLI from the user's app", () => {
  it("starts, signals and watches an order against durable dev, then redrives an import once its bug is fixed, without fetching again", async () => {
    const { dev, output } = spawnDev();
    // What `npx durable ...` runs, from the app's folder: it finds the dev server through .durable/dev.json.
    const durable = (...args: string[]) => run(process.execPath, [join(app, "node_modules", ".bin", "durable"), ...args], { cwd: join(app, "src"), timeoutMs: 60_000 });
    try {
      await waitForApi(dev, output, 180_000);
      const started = await durable("start", "ship-order", "--input", '{"sku":"cup","quantity":4}', "--tag", "customer=c-42");
      expectOk(started, "durable start");
      const id = started.stdout.trim();
      expectOk(await durable("signal", id, "approve", "--data", '{"approved":true}'), "durable signal");
      const watched = await durable("watch", id);
      expectOk(watched, "durable watch");
      expect(watched.stdout).toMatch(/SignalReceived/);
      expect(watched.stdout).toMatch(/ExecutionCompleted/);
      const result = await durable("result", id);
      expect(JSON.parse(result.stdout)).toEqual({ status: "shipped", reservationId: "res-cup", label: "LABEL-cup-4" });

      const importing = await durable("start", "import-file", "--input", '{"rows":12}', "--id", "import-1");
      expectOk(importing, "durable start import-file");
      const failed = await durable("result", "import-1");
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/bug: cannot parse 12 rows/);

      // The fix, saved as an editor saves (write, then rename): durable dev reloads it.
      const parse = join(app, "src", "parse.ts");
      await writeFile(`${parse}.saving`, "export function parseRows(rows: number): number {\n  return rows;\n}\n");
      await rename(`${parse}.saving`, parse);
      await waitFor(() => /reloaded src\/workflows\.ts/.test(output()), 30_000, () => `durable dev did not reload:\n${output()}`);
      expectOk(await durable("redrive", "import-1"), "durable redrive");
      const fixed = await durable("result", "import-1");
      expectOk(fixed, "durable result after the redrive");
      expect(JSON.parse(fixed.stdout)).toBe(12);
      expect(await readFile(join(app, ".durable", "fetch-runs"), "utf8")).toBe("x"); // fetched once, before and after the redrive
    } finally {
      const exited = new Promise<number | null>((done) => dev.once("exit", (code) => done(code)));
      dev.kill("SIGINT");
      expect(await exited).toBe(0);
    }
  }, 300_000);
});

/** `durable dev src/workflows.ts --port 0 ...` in the app, as the installed bin runs it; `output` is stdout and stderr so far. */
function spawnDev(...args: string[]): { dev: ChildProcess; output: () => string } {
  const dev = spawn(process.execPath, [join(app, "node_modules", "durable-aws", "dist", "local", "cli", "durable.js"), "dev", "src/workflows.ts", "--port", "0", ...args], {
    cwd: app,
    env: userEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  dev.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  dev.stderr?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  return { dev, output: () => out };
}

async function waitForApi(dev: ChildProcess, output: () => string, timeoutMs: number): Promise<string> {
  let exitCode: number | null | undefined;
  dev.once("exit", (code) => (exitCode = code));
  await waitFor(() => exitCode !== undefined || output().includes("Ctrl-C"), timeoutMs, () => `durable dev did not come up in ${timeoutMs} ms:\n${output()}`);
  if (exitCode !== undefined) throw new Error(`durable dev exited ${exitCode}:\n${output()}`);
  const url = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1];
  if (!url) throw new Error(`durable dev printed no API URL:\n${output()}`);
  return url;
}

async function waitFor(done: () => boolean, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 100));
  }
}
