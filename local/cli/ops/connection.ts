/**
 * Which API an operator command talks to, and how it authorizes:
 *
 *   1. --url, else DURABLE_URL: that API; with --token (or DURABLE_TOKEN) as a bearer token,
 *      without one SigV4 from the standard AWS credential chain (the construct's IAM auth).
 *   2. neither: the `durable dev` of this project, found through `.durable/dev.json` from the
 *      current folder upwards, with the token it wrote there (or --token). Its process must be
 *      alive and its URL must answer, so a file left by a crashed server is not taken for one.
 */
import type { Command } from "commander";
import { createClient, type DurableClient } from "../../../lambdas/client/client.js";
import type { ClientAuth } from "../../../lambdas/client/auth.js";
import { regionFromApiHost } from "../../../lambdas/client/sigv4.js";
import { DEV_DISCOVERY_FILE, findDevDiscovery, isProcessAlive } from "./dev-discovery.js";
import { EXIT } from "./exit-codes.js";
import { OperatorError } from "./operator-error.js";

export interface ConnectionFlags {
  url?: string;
  token?: string;
  region?: string;
}

export interface Connection {
  url: string;
  auth: ClientAuth;
  /** Where the URL came from, for messages. */
  source: "--url" | "DURABLE_URL" | "durable dev";
}

export interface ConnectionContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The dev server's answer check; default: any HTTP answer within 2 s. */
  probe?: (url: string, token: string) => Promise<void>;
}

/** Adds --url, --token and --region to an operator command. */
export function addConnectionOptions(command: Command): Command {
  return command
    .option("--url <url>", "the API's base URL (default: DURABLE_URL, else the durable dev of this folder)")
    .option("--token <token>", "a bearer token (default: DURABLE_TOKEN with a URL, the dev server's own without; no token: AWS IAM)")
    .option("--region <region>", "IAM auth: the region to sign for (default: from the URL, AWS_REGION, AWS_DEFAULT_REGION)");
}

/**
 * @example
 * const connection = await resolveConnection(flags, { cwd: process.cwd(), env: process.env });
 */
export async function resolveConnection(flags: ConnectionFlags, context: ConnectionContext): Promise<Connection> {
  const { env } = context;
  const [url, source] = flags.url !== undefined ? [flags.url, "--url" as const] : env.DURABLE_URL ? [env.DURABLE_URL, "DURABLE_URL" as const] : [undefined, undefined];
  if (url !== undefined && source !== undefined) {
    const token = flags.token ?? (env.DURABLE_TOKEN || undefined);
    if (token !== undefined) return { url, auth: { type: "bearer", token }, source };
    return { url, auth: iamAuth(url, flags.region, env, source), source };
  }
  return devConnection(flags, context);
}

/** The client of the resolved API. */
export async function connect(flags: ConnectionFlags, context: ConnectionContext = { cwd: process.cwd(), env: process.env }): Promise<DurableClient> {
  const { url, auth } = await resolveConnection(flags, context);
  return createClient({ url, auth });
}

function iamAuth(url: string, region: string | undefined, env: NodeJS.ProcessEnv, source: string): ClientAuth {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new OperatorError(EXIT.usage, "INVALID_URL", `${source} ${JSON.stringify(url)} is not a URL`, "pass the API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com");
  }
  const chosen = region ?? regionFromApiHost(host) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined);
  if (chosen === undefined) {
    throw new OperatorError(
      EXIT.unreachable,
      "NO_REGION",
      `no AWS region to sign requests to ${host} with (no --token, so IAM auth)`,
      "pass --region or set AWS_REGION, or pass --token for a bearer token",
    );
  }
  return { type: "iam", region: chosen };
}

async function devConnection(flags: ConnectionFlags, context: ConnectionContext): Promise<Connection> {
  const found = await findDevDiscovery(context.cwd).catch((error: unknown) => {
    throw new OperatorError(EXIT.unreachable, "DEV_FILE_UNREADABLE", error instanceof Error ? error.message : String(error), 'restart "npx durable dev", or pass --url', { cause: error });
  });
  if (found === undefined) {
    throw new OperatorError(EXIT.unreachable, "NO_DEV_SERVER", `no durable dev found (looked for ${DEV_DISCOVERY_FILE} from ${context.cwd} up)`, 'start one with "npx durable dev", or pass --url');
  }
  const { path, discovery } = found;
  if (!isProcessAlive(discovery.pid)) {
    throw new OperatorError(
      EXIT.unreachable,
      "NO_DEV_SERVER",
      `no durable dev running: ${path} names pid ${discovery.pid} (started ${discovery.startedAt}), which is not running`,
      'start one with "npx durable dev", or pass --url',
    );
  }
  const token = flags.token ?? discovery.token;
  try {
    await (context.probe ?? answers)(discovery.url, token);
  } catch (error) {
    throw new OperatorError(
      EXIT.unreachable,
      "NO_DEV_SERVER",
      `the durable dev of ${path} (pid ${discovery.pid}) does not answer at ${discovery.url}: ${error instanceof Error ? error.message : String(error)}`,
      'restart it with "npx durable dev", or pass --url',
      { cause: error },
    );
  }
  return { url: discovery.url, auth: { type: "bearer", token }, source: "durable dev" };
}

/** Any HTTP answer will do: the commands report a wrong token themselves, with its code. */
async function answers(url: string, token: string): Promise<void> {
  try {
    const response = await fetch(new URL("workflows", url.endsWith("/") ? url : `${url}/`), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(2_000),
    });
    await response.body?.cancel();
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause;
    throw new Error(typeof cause?.code === "string" ? cause.code : error instanceof Error ? error.message : String(error));
  }
}
