/**
 * `durable dev`'s defaults: which workflows file, which project, where the data goes, which
 * token; and the one-line errors when it cannot tell.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../../local/cli/cli-error.js";
import { resolveDevOptions } from "../../../local/cli/dev/options.js";
import { findProjectDir, findWorkflowsFile } from "../../../local/cli/dev/project.js";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "durable-dev-options-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(scratch, "p-"));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

describe("the workflows file", () => {
  it("is workflows.ts when there is one, before src/workflows.ts", async () => {
    const dir = await project({ "workflows.ts": "", "src/workflows.ts": "" });
    expect(await findWorkflowsFile(undefined, dir)).toBe(join(dir, "workflows.ts"));
  });

  it("is src/workflows.ts when there is no workflows.ts", async () => {
    const dir = await project({ "src/workflows.ts": "" });
    expect(await findWorkflowsFile(undefined, dir)).toBe(join(dir, "src", "workflows.ts"));
  });

  it("is an error naming both places and what to do when neither exists", async () => {
    const dir = await project({ "README.md": "" });
    const error = await findWorkflowsFile(undefined, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toBe(
      `no workflows file: neither workflows.ts nor src/workflows.ts is in ${dir}: pass the path of the file that exports \`workflows\`, e.g. durable dev src/my-workflows.ts.`,
    );
  });

  it("is the file given, relative to the current folder, and an error if it is missing", async () => {
    const dir = await project({ "flows/all.ts": "" });
    expect(await findWorkflowsFile("flows/all.ts", dir)).toBe(join(dir, "flows", "all.ts"));
    await expect(findWorkflowsFile("flows/none.ts", dir)).rejects.toMatchObject({ code: "WORKFLOWS_FILE_NOT_FOUND" });
    await expect(findWorkflowsFile("flows", dir)).rejects.toMatchObject({ code: "WORKFLOWS_FILE_IS_FOLDER" });
  });
});

describe("the project", () => {
  it("is the folder of the nearest package.json above the workflows file", async () => {
    const dir = await project({ "package.json": "{}", "src/deep/workflows.ts": "" });
    expect(await findProjectDir(join(dir, "src", "deep", "workflows.ts"))).toBe(dir);
  });
});

describe("resolveDevOptions", () => {
  it("keeps data in <project>/.durable/data, serves on 3000 (falling back), watches, and makes a random token", async () => {
    const dir = await project({ "package.json": "{}", "src/workflows.ts": "" });
    const options = await resolveDevOptions({}, { cwd: dir, env: {} });
    expect(options).toMatchObject({
      workflowsFile: join(dir, "src", "workflows.ts"),
      projectDir: dir,
      dataDir: join(dir, ".durable", "data"),
      port: 3000,
      portRequired: false,
      watch: true,
      tokenSource: "random",
    });
    expect(options.token).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });

  it("takes the token from --token, else DURABLE_TOKEN", async () => {
    const dir = await project({ "workflows.ts": "" });
    expect(await resolveDevOptions({ token: "flag-token" }, { cwd: dir, env: { DURABLE_TOKEN: "env-token" } })).toMatchObject({ token: "flag-token", tokenSource: "--token" });
    expect(await resolveDevOptions({}, { cwd: dir, env: { DURABLE_TOKEN: "env-token" } })).toMatchObject({ token: "env-token", tokenSource: "DURABLE_TOKEN" });
    await expect(resolveDevOptions({ token: "has space" }, { cwd: dir, env: {} })).rejects.toMatchObject({ code: "INVALID_TOKEN" });
  });

  it("keeps nothing with --in-memory, and refuses --in-memory with --data-dir", async () => {
    const dir = await project({ "workflows.ts": "" });
    expect((await resolveDevOptions({ inMemory: true }, { cwd: dir, env: {} })).dataDir).toBeUndefined();
    expect((await resolveDevOptions({ dataDir: "db" }, { cwd: dir, env: {} })).dataDir).toBe(join(dir, "db"));
    await expect(resolveDevOptions({ inMemory: true, dataDir: "db" }, { cwd: dir, env: {} })).rejects.toMatchObject({ code: "CONFLICTING_OPTIONS" });
  });
});
