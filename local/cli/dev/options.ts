import { InvalidArgumentError } from "commander";
/**
 * `durable dev`'s settings, from its flags (or `npm start`'s environment) to what the server
 * runs with: absolute paths, a port, a token. Defaults live here only.
 */
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { CliError } from "../cli-error.js";
import { TENANT_ID } from "../../../lambdas/core/permissions.js";
import { findProjectDir, findWorkflowsFile } from "./project.js";

export const DEFAULT_PORT = 3000;

export interface DevFlags {
  /** As given on the command line: relative to `cwd`. */
  workflowsFile?: string;
  port?: number;
  /** A port given on purpose must be free; the default (or `npm start`'s PORT) falls back to a free one. */
  portRequired?: boolean;
  token?: string;
  dataDir?: string;
  inMemory?: boolean;
  /** Default true. */
  watch?: boolean;
  /** Keep executions per tenant, with a token for each. */
  tenants?: readonly string[];
  /** Seal every stored value with a local envelope key (as a KMS key does when deployed). */
  encryptValues?: boolean;
}

export interface DevOptions {
  /** Absolute. */
  workflowsFile: string;
  /** The folder of the nearest package.json above the workflows file: `.durable/` goes there. */
  projectDir: string;
  /** 0: any free port. */
  port: number;
  portRequired: boolean;
  token: string;
  tokenSource: "--token" | "DURABLE_TOKEN" | "random";
  /** Where DynamoDB Local keeps its data; undefined: in memory, nothing kept. */
  dataDir: string | undefined;
  watch: boolean;
  /** Tenants to make tokens for; none: executions belong to no tenant. */
  tenants: string[];
  /**
   * With `--encrypt-values`: the file holding the local master key values are sealed under
   * (`<project>/.durable/payload-key`, made on first use), or "memory" for a key kept only while
   * the server runs (`--in-memory`: nothing sealed outlives it). Undefined: values stored as JSON.
   */
  payloadKey: string | "memory" | undefined;
  /** The folder paths are shown relative to. */
  cwd: string;
}

/**
 * @example
 * const options = await resolveDevOptions({ workflowsFile: "src/workflows.ts" }, { cwd: process.cwd(), env: process.env });
 */
export async function resolveDevOptions(flags: DevFlags, context: { cwd: string; env: NodeJS.ProcessEnv }): Promise<DevOptions> {
  const { cwd, env } = context;
  if (flags.inMemory && flags.dataDir !== undefined) {
    throw new CliError("CONFLICTING_OPTIONS", "--data-dir and --in-memory contradict each other", "pass one of them");
  }
  const workflowsFile = await findWorkflowsFile(flags.workflowsFile, cwd);
  const projectDir = await findProjectDir(workflowsFile);
  const port = flags.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new CliError("INVALID_PORT", `port ${port} is not a port`, "pass a whole number from 0 to 65535 (0: any free port)");
  }
  const [token, tokenSource] = chooseToken(flags.token, env.DURABLE_TOKEN);
  const tenants = [...new Set(flags.tenants ?? [])];
  for (const tenant of tenants) {
    if (!TENANT_ID.test(tenant)) throw new CliError("INVALID_TENANT", `tenant "${tenant.slice(0, 80)}" is not a tenant id`, "use 1–64 characters of A–Z, a–z, 0–9, _ or -");
  }
  return {
    workflowsFile,
    projectDir,
    port,
    portRequired: flags.portRequired ?? false,
    token,
    tokenSource,
    dataDir: flags.inMemory ? undefined : flags.dataDir !== undefined ? resolve(cwd, flags.dataDir) : join(projectDir, ".durable", "data"),
    watch: flags.watch ?? true,
    tenants,
    payloadKey: !flags.encryptValues ? undefined : flags.inMemory ? "memory" : join(projectDir, ".durable", "payload-key"),
    cwd,
  };
}

function chooseToken(flag: string | undefined, fromEnv: string | undefined): [string, DevOptions["tokenSource"]] {
  const [token, source] = flag !== undefined ? ([flag, "--token"] as const) : fromEnv ? ([fromEnv, "DURABLE_TOKEN"] as const) : ([randomBytes(18).toString("base64url"), "random"] as const);
  // It goes into an HTTP header and into the curl lines printed for copying.
  if (!/^[\x21-\x7e]+$/.test(token) || /["'\\`$]/.test(token)) {
    throw new CliError("INVALID_TOKEN", `the token from ${source} has spaces, quotes or characters outside printable ASCII`, "use letters, digits and - _ . ~ + / =");
  }
  return [token, source];
}

/** Commander's parser for `--port`. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new CliError("INVALID_PORT", `port ${value} is not a port`, "pass a whole number from 0 to 65535 (0: any free port)");
  return port;
}

/** `--port` as commander parses it: a bad value is commander's own one-line argument error. */
export function portArgument(value: string): number {
  try {
    return parsePort(value);
  } catch (error) {
    if (error instanceof CliError) throw new InvalidArgumentError(`${error.remedy[0]?.toUpperCase() ?? ""}${error.remedy.slice(1)}.`);
    throw error;
  }
}
