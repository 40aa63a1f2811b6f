/**
 * Turns the workflows file (TypeScript or JavaScript) into workflow definitions the local stack
 * can serve: esbuild bundles it with what it imports from the project into
 * `<project>/.durable/build/`, npm packages left as imports (so `durable-aws` is the same
 * installed copy the CLI runs from, and a package is loaded once however often the bundle is),
 * and the bundle is imported. In watch mode esbuild rebuilds whenever one of the files the bundle
 * was made from changes, and each new bundle is imported in turn.
 *
 * Each bundle is written under a name made from its content: a changed bundle is a new module
 * URL, so `import()` loads the new code (ESM caches by URL and cannot unload: each reload keeps
 * the old module in memory, fine for a dev server). A rebuild that changes nothing is no reload.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { type BuildContext, type BuildResult, context, type Message, type OutputFile } from "esbuild";
import { type AnyWorkflow, WorkflowRegistry } from "../../../lambdas/core/workflow.js";
import type { ScheduleDefinition } from "../../../lambdas/starts/definitions.js";
import { validateSchedules } from "../../../lambdas/starts/expression.js";

/** What one successful build gave. */
export interface LoadedWorkflows {
  workflows: AnyWorkflow[];
  /** The `schedules` export, if any: fired by the dev server as the construct deploys them. */
  schedules: ScheduleDefinition[];
  /** The files the bundle was made from (the workflows file and what it imports), relative to the project. */
  inputs: string[];
  /** The bundle imported, in `.durable/build/`. */
  bundleFile: string;
}

/** Why a build gave no workflows; `message` is one line. */
export class WorkflowsLoadError extends Error {
  override readonly name = "WorkflowsLoadError";
  constructor(
    readonly code: "BUILD_FAILED" | "IMPORT_FAILED" | "NO_WORKFLOWS" | "INVALID_WORKFLOWS" | "INVALID_SCHEDULES",
    message: string,
    /** What to do about it, without a final period. */
    readonly remedy: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ReloadOutcome =
  | { ok: true; loaded: LoadedWorkflows; /** The bundle came out the same as the one served (e.g. a fix undoing a broken edit). */ unchanged: boolean }
  | { ok: false; error: WorkflowsLoadError };

export interface WorkflowsBundler {
  /** Builds and imports the workflows file once. Throws WorkflowsLoadError. */
  load(): Promise<LoadedWorkflows>;
  /**
   * Rebuilds on every change of a file the bundle was made from and reports each outcome, in
   * order, one at a time. Returns once watching.
   */
  watch(onReload: (outcome: ReloadOutcome) => Promise<void> | void): Promise<void>;
  /** Stops watching and building. */
  dispose(): Promise<void>;
}

export interface WorkflowsBundlerOptions {
  /** Absolute path of the workflows file. */
  workflowsFile: string;
  /** The project folder: esbuild works from here (tsconfig, package.json), and `inputs` are relative to it. */
  projectDir: string;
  /** Where bundles go; `<project>/.durable/build`. */
  outDir: string;
}

/**
 * @example
 * const bundler = await createWorkflowsBundler({ workflowsFile, projectDir, outDir: join(projectDir, ".durable", "build") });
 * const { workflows } = await bundler.load();
 */
/** How long a failed build waits for a newer one before it is reported (a save still being written). */
const FAILURE_SETTLE_MS = 300;

export async function createWorkflowsBundler(options: WorkflowsBundlerOptions): Promise<WorkflowsBundler> {
  const { workflowsFile, projectDir, outDir } = options;
  const shown = relative(projectDir, workflowsFile) || workflowsFile;
  await mkdir(outDir, { recursive: true });
  // Bundles of an earlier session: nothing imports them any more.
  for (const name of await readdir(outDir)) if (/^workflows\.[0-9a-f]+\.mjs$/.test(name)) await rm(join(outDir, name), { force: true });

  let onEnd: ((result: BuildResult) => Promise<void>) | undefined;
  const ctx: BuildContext = await context({
    entryPoints: [workflowsFile],
    absWorkingDir: projectDir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${process.versions.node.split(".")[0]}`,
    // Every bare import (npm packages, durable-aws itself) stays an import, resolved by Node from
    // the project's node_modules: one copy of each, shared with the CLI.
    packages: "external",
    // A CommonJS file of the project bundled into ESM may call require(); esbuild's shim needs one.
    banner: { js: 'import { createRequire as __durableCreateRequire } from "node:module"; const require = __durableCreateRequire(import.meta.url);' },
    // Stack traces of workflow code point at the source (the CLI turns source maps on).
    sourcemap: "inline",
    sourcesContent: false,
    outfile: join(outDir, "workflows.mjs"),
    metafile: true,
    write: false,
    logLevel: "silent",
    plugins: [{ name: "durable-dev-reload", setup: (build) => build.onEnd((result) => onEnd?.(result)) }],
  });

  let current: { hash: string; loaded: LoadedWorkflows } | undefined;

  async function importBuild(result: BuildResult): Promise<{ hash: string; loaded: LoadedWorkflows }> {
    if (result.errors.length > 0) throw buildError(result.errors, shown);
    const output = bundleOutput(result.outputFiles);
    const hash = createHash("sha256").update(output.contents).digest("hex").slice(0, 16);
    if (current?.hash === hash) return current;
    const bundleFile = join(outDir, `workflows.${hash}.mjs`);
    await writeFile(bundleFile, output.contents);
    let exports: Record<string, unknown>;
    try {
      exports = (await import(pathToFileURL(bundleFile).href)) as Record<string, unknown>;
    } catch (error) {
      throw new WorkflowsLoadError("IMPORT_FAILED", `${shown} threw while loading: ${firstLine(error)}`, "fix the code that runs when the file is imported", { cause: error });
    }
    const workflows = workflowsOf(exports, shown);
    const schedules = schedulesOf(exports, shown, workflows);
    const inputs = Object.keys(result.metafile?.inputs ?? {}).filter((input) => !input.includes("node_modules"));
    const previous = current?.loaded.bundleFile;
    current = { hash, loaded: { workflows, schedules, inputs, bundleFile } };
    // Imported, so the file is no longer needed; keep only the one being served.
    if (previous && previous !== bundleFile) await rm(previous, { force: true });
    return current;
  }

  return {
    async load() {
      let result: BuildResult;
      try {
        result = await ctx.rebuild();
      } catch (error) {
        // rebuild() rejects when the build has errors; the errors ride on the rejection.
        throw buildError(errorsOf(error), shown, error);
      }
      return (await importBuild(result)).loaded;
    },

    async watch(onReload) {
      let failedSinceServed = false;
      let queue = Promise.resolve();
      let builds = 0;
      onEnd = (result) => {
        const build = (builds += 1);
        // One outcome at a time, in build order, even if esbuild ends a build before the last report returned.
        queue = queue.then(async () => {
          const before = current?.hash;
          try {
            const built = await importBuild(result);
            const unchanged = built.hash === before;
            // The build esbuild makes on entering watch mode, or a save that changed nothing in the bundle.
            if (unchanged && !failedSinceServed) return;
            failedSinceServed = false;
            await onReload({ ok: true, loaded: built.loaded, unchanged });
          } catch (error) {
            const loadError = error instanceof WorkflowsLoadError ? error : new WorkflowsLoadError("IMPORT_FAILED", firstLine(error), "fix it and save again", { cause: error });
            // An editor that truncates and then writes gets a build of a half-written file, and the
            // rest of the write starts another build at once: a failure counts only if no build
            // follows it within a moment.
            await new Promise((resolve) => setTimeout(resolve, FAILURE_SETTLE_MS));
            if (build !== builds || !onEnd) return;
            failedSinceServed = true;
            await onReload({ ok: false, error: loadError });
          }
        });
        return queue;
      };
      await ctx.watch();
    },

    async dispose() {
      onEnd = undefined;
      await ctx.dispose();
    },
  };
}

/** The optional `schedules` export, checked as the construct checks it. */
function schedulesOf(exports: Record<string, unknown>, shown: string, workflows: readonly AnyWorkflow[]): ScheduleDefinition[] {
  const value = exports.schedules;
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new WorkflowsLoadError("INVALID_SCHEDULES", `${shown} exports \`schedules\` as ${typeof value}, not an array`, "export `schedules` as an array of schedule definitions, or not at all");
  }
  try {
    validateSchedules(value as ScheduleDefinition[]);
  } catch (error) {
    throw new WorkflowsLoadError("INVALID_SCHEDULES", `${shown}: ${firstLine(error)}`, "fix the schedule in `schedules`");
  }
  for (const schedule of value as ScheduleDefinition[]) {
    if (!workflows.some((w) => w.name === schedule.workflow && (schedule.version === undefined || w.version === schedule.version))) {
      const version = schedule.version === undefined ? "" : ` version ${schedule.version}`;
      throw new WorkflowsLoadError("INVALID_SCHEDULES", `${shown}: schedule "${schedule.name}" starts workflow "${schedule.workflow}"${version}, which \`workflows\` does not hold`, "add the workflow to `workflows`, or fix the schedule's workflow");
    }
  }
  return value as ScheduleDefinition[];
}

/** The `workflows` export, checked: an array of definitions, each name and version once. */
function workflowsOf(exports: Record<string, unknown>, shown: string): AnyWorkflow[] {
  const value = exports.workflows;
  if (!Array.isArray(value)) {
    const names = Object.keys(exports);
    const found = value === undefined ? `exports ${names.length > 0 ? names.join(", ") : "nothing"}` : `exports \`workflows\` as ${typeof value}`;
    throw new WorkflowsLoadError("NO_WORKFLOWS", `${shown} ${found}, not an array \`workflows\``, "add `export const workflows = [myWorkflow]` with the definitions defineWorkflow returns");
  }
  value.forEach((item: unknown, index) => {
    if (!isDefinition(item)) {
      throw new WorkflowsLoadError("INVALID_WORKFLOWS", `${shown}: workflows[${index}] is not a workflow definition`, "put only what defineWorkflow returns in `workflows`");
    }
  });
  const workflows = value as AnyWorkflow[];
  try {
    new WorkflowRegistry(workflows);
  } catch (error) {
    throw new WorkflowsLoadError("INVALID_WORKFLOWS", `${shown}: ${firstLine(error)}`, "list each workflow name and version once", { cause: error });
  }
  return workflows;
}

function isDefinition(value: unknown): value is AnyWorkflow {
  if (typeof value !== "object" || value === null) return false;
  const { name, version, fn } = value as Record<string, unknown>;
  return typeof name === "string" && typeof version === "number" && Number.isInteger(version) && version >= 1 && typeof fn === "function";
}

function bundleOutput(files: OutputFile[] | undefined): OutputFile {
  // One entry, inline source map: the bundle is the only output file.
  const output = files?.find((file) => file.path.endsWith(".mjs"));
  if (!output) throw new WorkflowsLoadError("BUILD_FAILED", "esbuild wrote no bundle", "report this as a bug of durable-aws");
  return output;
}

/** The first error as `file:line:column: text`, and how many more there are. */
function buildError(errors: readonly Message[], shown: string, cause?: unknown): WorkflowsLoadError {
  const first = errors[0];
  if (!first) return new WorkflowsLoadError("BUILD_FAILED", `${shown} did not build: ${firstLine(cause)}`, "fix it and save again", { cause });
  const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : "";
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
  return new WorkflowsLoadError("BUILD_FAILED", `${where}${first.text}${more}`, "fix it and save again", { cause });
}

function errorsOf(error: unknown): Message[] {
  const errors = (error as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? (errors as Message[]) : [];
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n").find((line) => line.trim() !== "")?.trim() ?? "unknown error";
}
