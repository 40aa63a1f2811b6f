/**
 * Which workflows file `durable dev` serves and which project it belongs to. The project (the
 * folder of the nearest package.json above the file) is where `.durable/` goes and where the
 * bundle's npm imports resolve from.
 */
import { stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { CliError } from "../cli-error.js";

/** Looked for in the current folder, in this order, when no file is given. */
export const DEFAULT_WORKFLOWS_FILES = ["workflows.ts", join("src", "workflows.ts")] as const;

/**
 * The absolute path of the workflows file: `given` (relative to `cwd`), else the first of
 * DEFAULT_WORKFLOWS_FILES that exists.
 * @example await findWorkflowsFile(undefined, process.cwd()); // "/app/src/workflows.ts"
 */
export async function findWorkflowsFile(given: string | undefined, cwd: string): Promise<string> {
  if (given !== undefined) {
    const file = resolve(cwd, given);
    const kind = await fileKind(file);
    if (kind === "file") return file;
    if (kind === "folder") {
      throw new CliError("WORKFLOWS_FILE_IS_FOLDER", `${given} is a folder`, "pass the file that exports `workflows` (e.g. durable dev src/workflows.ts)");
    }
    throw new CliError("WORKFLOWS_FILE_NOT_FOUND", `workflows file ${given} not found (in ${cwd})`, "pass the path of the file that exports `workflows`");
  }
  for (const candidate of DEFAULT_WORKFLOWS_FILES) {
    const file = join(cwd, candidate);
    if ((await fileKind(file)) === "file") return file;
  }
  throw new CliError(
    "WORKFLOWS_FILE_NOT_FOUND",
    `no workflows file: neither ${DEFAULT_WORKFLOWS_FILES.join(" nor ")} is in ${cwd}`,
    "pass the path of the file that exports `workflows`, e.g. durable dev src/my-workflows.ts",
  );
}

/** The folder of the nearest package.json at or above `file`'s folder; `file`'s folder if there is none. */
export async function findProjectDir(file: string): Promise<string> {
  const start = dirname(file);
  for (let dir = start; ; dir = dirname(dir)) {
    if ((await fileKind(join(dir, "package.json"))) === "file") return dir;
    if (dirname(dir) === dir) return start;
  }
}

/** `file` as a person reads it from `cwd`: relative when inside, absolute otherwise. */
export function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

async function fileKind(path: string): Promise<"file" | "folder" | "missing"> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? "folder" : "file";
  } catch {
    return "missing";
  }
}
