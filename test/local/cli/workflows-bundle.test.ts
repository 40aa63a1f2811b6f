/**
 * The workflows file as `durable dev` loads it: TypeScript bundled with what it imports from the
 * project, npm packages left as imports (loaded once, however often the bundle is), and rebuilt
 * and re-imported when a file it imports changes.
 */
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWorkflowsBundler, type ReloadOutcome, type WorkflowsBundler, WorkflowsLoadError } from "../../../local/cli/dev/workflows-bundle.js";

let scratch: string;
const open: WorkflowsBundler[] = [];
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "durable-bundle-"));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.dispose()));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/**
 * A save as editors that write atomically make it (a temporary file renamed over the old one), so
 * a build never reads a file half-written; a save written in place can be caught half-way, and
 * then a failed reload is followed by the good one.
 */
async function save(path: string, text: string): Promise<void> {
  await writeFile(`${path}.saving`, text);
  await rename(`${path}.saving`, path);
}

const definition = (name: string, body: string) => `{ name: "${name}", version: 1, fn: async (_ctx: unknown, input: unknown): Promise<unknown> => ${body} }`;

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(scratch, "p-"));
  await writeFile(join(dir, "package.json"), '{ "name": "p", "private": true, "type": "module" }');
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

async function bundler(dir: string, file = "workflows.ts"): Promise<WorkflowsBundler> {
  const b = await createWorkflowsBundler({ workflowsFile: join(dir, file), projectDir: dir, outDir: join(dir, ".durable", "build") });
  open.push(b);
  return b;
}

function nextOutcome(outcomes: ReloadOutcome[], count: number, timeoutMs = 10_000): Promise<ReloadOutcome> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (outcomes.length >= count) return resolve(outcomes[count - 1] as ReloadOutcome);
      if (Date.now() > deadline) return reject(new Error(`no reload #${count} within ${timeoutMs} ms`));
      setTimeout(poll, 25);
    };
    poll();
  });
}

describe("the workflows bundle", () => {
  it("loads a TypeScript file and what it imports from the project, and lists them as its inputs", async () => {
    const dir = await project({
      "lib/greeting.ts": 'export const greeting = (name: string): string => `Hello, ${name}`;\n',
      "workflows.ts": `import { greeting } from "./lib/greeting.js";\nconst hello = ${definition("hello", "greeting(String(input))")};\nexport const workflows = [hello];\n`,
    });
    const loaded = await (await bundler(dir)).load();
    expect(loaded.workflows.map((w) => w.name)).toEqual(["hello"]);
    expect(await loaded.workflows[0]!.fn({} as never, "Ada" as never)).toBe("Hello, Ada");
    expect(loaded.inputs.sort()).toEqual(["lib/greeting.ts", "workflows.ts"]);
    expect(loaded.bundleFile.startsWith(join(dir, ".durable", "build"))).toBe(true);
  });

  it("leaves npm packages as imports, so a package is loaded once however often the bundle is", async () => {
    const dir = await project({
      "node_modules/fake-pkg/package.json": '{ "name": "fake-pkg", "type": "module", "exports": "./index.js" }',
      "node_modules/fake-pkg/index.js": "globalThis.__fakePkgLoads = (globalThis.__fakePkgLoads ?? 0) + 1;\nexport const marker = {};\n",
      "workflows.ts": `import { marker } from "fake-pkg";\nexport { marker };\nexport const workflows = [${definition("a", "1")}];\n`,
    });
    const b = await bundler(dir);
    const first = await b.load();
    expect(await readFile(first.bundleFile, "utf8")).toMatch(/from "fake-pkg"/);
    const outcomes: ReloadOutcome[] = [];
    await b.watch((o) => void outcomes.push(o));
    await save(join(dir, "workflows.ts"), `import { marker } from "fake-pkg";\nexport { marker };\nexport const workflows = [${definition("b", "2")}];\n`);
    const reloaded = await nextOutcome(outcomes, 1);
    expect(reloaded.ok && reloaded.loaded.workflows.map((w) => w.name)).toEqual(["b"]);
    expect((globalThis as { __fakePkgLoads?: number }).__fakePkgLoads).toBe(1);
  });

  it("rebuilds when an imported file changes, reports a broken save with file and line, and recovers", async () => {
    const dir = await project({
      "lib/text.ts": 'export const text: string = "one";\n',
      "workflows.ts": `import { text } from "./lib/text.js";\nexport const workflows = [${definition("w", "text")}];\n`,
    });
    const b = await bundler(dir);
    await b.load();
    const outcomes: ReloadOutcome[] = [];
    await b.watch((o) => void outcomes.push(o));

    await save(join(dir, "lib", "text.ts"), 'export const text: string = "two";\n');
    const changed = await nextOutcome(outcomes, 1);
    if (!changed.ok) throw changed.error;
    expect(await changed.loaded.workflows[0]!.fn({} as never, undefined as never)).toBe("two");

    await save(join(dir, "lib", "text.ts"), "export const text: string = ;\n");
    const broken = await nextOutcome(outcomes, 2);
    expect(broken.ok).toBe(false);
    if (!broken.ok) expect(broken.error.message).toMatch(/^lib\/text\.ts:1:\d+: /);

    await save(join(dir, "lib", "text.ts"), 'export const text: string = "two";\n');
    const fixed = await nextOutcome(outcomes, 3);
    expect(fixed).toMatchObject({ ok: true, unchanged: true });
  });

  it("fails in one line when the file has no `workflows` array, naming what it exports", async () => {
    const dir = await project({ "workflows.ts": `export const hello = ${definition("hello", "1")};\n` });
    const error = await (await bundler(dir)).load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowsLoadError);
    expect(error).toMatchObject({ code: "NO_WORKFLOWS", message: "workflows.ts exports hello, not an array `workflows`" });
  });

  it("fails when a name and version are listed twice", async () => {
    const dir = await project({ "workflows.ts": `export const workflows = [${definition("x", "1")}, ${definition("x", "2")}];\n` });
    await expect((await bundler(dir)).load()).rejects.toMatchObject({ code: "INVALID_WORKFLOWS" });
  });

  it("loads the `schedules` export, checked as the construct checks it, and refuses a schedule of a workflow it does not serve", async () => {
    const good = await project({
      "workflows.ts": `export const workflows = [${definition("report", "1")}];\nexport const schedules = [{ name: "nightly", workflow: "report", cron: "0 2 * * ? *", timezone: "Europe/Berlin" }];\n`,
    });
    expect((await (await bundler(good)).load()).schedules).toEqual([{ name: "nightly", workflow: "report", cron: "0 2 * * ? *", timezone: "Europe/Berlin" }]);
    const none = await project({ "workflows.ts": `export const workflows = [${definition("report", "1")}];\n` });
    expect((await (await bundler(none)).load()).schedules).toEqual([]);

    const badCron = await project({ "workflows.ts": `export const workflows = [${definition("report", "1")}];\nexport const schedules = [{ name: "nightly", workflow: "report", cron: "0 2 * * * *" }];\n` });
    const cronError = await (await bundler(badCron)).load().catch((e: unknown) => e);
    expect(cronError).toMatchObject({ code: "INVALID_SCHEDULES", message: expect.stringContaining('schedule "nightly"') });
    const unknown = await project({ "workflows.ts": `export const workflows = [${definition("report", "1")}];\nexport const schedules = [{ name: "n", workflow: "reprot", rate: "5 minutes" }];\n` });
    await expect((await bundler(unknown)).load()).rejects.toMatchObject({ code: "INVALID_SCHEDULES", message: expect.stringContaining('"reprot"') });
    const notArray = await project({ "workflows.ts": `export const workflows = [${definition("report", "1")}];\nexport const schedules = { name: "n" };\n` });
    await expect((await bundler(notArray)).load()).rejects.toMatchObject({ code: "INVALID_SCHEDULES" });
  });
});
