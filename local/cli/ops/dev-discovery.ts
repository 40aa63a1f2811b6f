/**
 * The discovery file: how the operator commands find the `durable dev` of this project without a
 * --url. `durable dev` writes `<project>/.durable/dev.json` once it serves and removes it when it
 * stops; the commands look for it from the current folder upwards. It holds the bearer token,
 * hence mode 0600.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** `.durable/dev.json`: where the dev server of a project answers. */
export interface DevDiscovery {
  url: string;
  token: string;
  /** The `durable dev` process. */
  pid: number;
  /** ISO 8601. */
  startedAt: string;
}

export const DEV_DISCOVERY_FILE = join(".durable", "dev.json");

export function devDiscoveryPath(projectDir: string): string {
  return join(projectDir, DEV_DISCOVERY_FILE);
}

/**
 * Writes the file for this process (atomically: a command reading it never sees half of it).
 * @example await writeDevDiscovery(options.projectDir, { url: stack.apiUrl, token, pid: process.pid, startedAt: new Date().toISOString() });
 */
export async function writeDevDiscovery(projectDir: string, discovery: DevDiscovery): Promise<string> {
  const path = devDiscoveryPath(projectDir);
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.${discovery.pid}.partial`;
  await writeFile(partial, `${JSON.stringify(discovery, null, 2)}\n`, { mode: 0o600 });
  await rename(partial, path);
  return path;
}

/**
 * Removes the file if it is still the one `pid` wrote: a second `durable dev` of the same project
 * may have replaced it, and stopping the first must not hide the second.
 */
export async function removeDevDiscovery(projectDir: string, pid: number): Promise<void> {
  const path = devDiscoveryPath(projectDir);
  const current = await readDevDiscovery(path).catch(() => undefined);
  if (current !== undefined && current.pid !== pid) return;
  await rm(path, { force: true });
}

/** The nearest `.durable/dev.json` at or above `cwd`, and where it is; undefined when there is none. */
export async function findDevDiscovery(cwd: string): Promise<{ path: string; discovery: DevDiscovery } | undefined> {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const path = devDiscoveryPath(dir);
    const discovery = await readDevDiscovery(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return undefined;
      throw error;
    });
    if (discovery !== undefined) return { path, discovery };
    if (dirname(dir) === dir) return undefined;
  }
}

/** Reads and checks one discovery file; throws a TypeError naming the file when it is not one. */
export async function readDevDiscovery(path: string): Promise<DevDiscovery> {
  const text = await readFile(path, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TypeError(`${path} is not JSON`);
  }
  const { url, token, pid, startedAt } = (value ?? {}) as Partial<Record<keyof DevDiscovery, unknown>>;
  if (typeof url !== "string" || typeof token !== "string" || typeof pid !== "number" || !Number.isInteger(pid) || typeof startedAt !== "string") {
    throw new TypeError(`${path} is not a durable dev discovery file (it needs url, token, pid and startedAt)`);
  }
  return { url, token, pid, startedAt };
}

/** Whether a process with this id runs (EPERM: it does, as another user). */
export function isProcessAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
