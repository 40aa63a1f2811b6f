/**
 * `npm start`: boots the local stack (DynamoDB Local with data in .data/, the SQS emulator, the
 * API on localhost, the worker poller, the sweeper), runs the demo workflow end to end over HTTP,
 * prints what happened and how to try more, and keeps serving until Ctrl-C.
 *
 * Environment: PORT (default 3000, a free port if taken), DURABLE_TOKEN (bearer token; random
 * when unset), DURABLE_DATA_DIR (default .data), DURABLE_EXIT_AFTER_DEMO=1 (stop after the demo),
 * DURABLE_LOG_LEVEL=debug.
 */
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { workflows } from "../examples/index.js";
import type { EngineLogger } from "../lambdas/engine/process-wakeup.js";
import { type LocalStack, startLocalStack } from "./stack.js";

// The SDK warns on Node 20 that releases after January 2027 need Node 22; the local stack works on both.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const debug = process.env.DURABLE_LOG_LEVEL === "debug";

const consoleLogger: EngineLogger = {
  debug: (message, data) => {
    if (debug) console.log(`  · ${message}${format(data)}`);
  },
  info: (message, data) => {
    if (debug || message === "execution started" || message === "sweeper woke overdue executions") console.log(`  · ${message}${format(data)}`);
  },
  warn: (message, data) => console.warn(`  ! ${message}${format(data)}`),
  error: (message, data) => console.error(`  ✗ ${message}${format(data)}`),
};

function format(data: Record<string, unknown> | undefined): string {
  if (!data) return "";
  return " " + Object.entries(data).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
}

async function api(stack: LocalStack, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.bearerToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

async function runDemo(stack: LocalStack): Promise<boolean> {
  console.log("\n▶ Starting the demo workflow \"greet\" (3 steps and a 1 s durable sleep)…");
  const started = await api(stack, "POST", "/executions", { workflow: "greet", input: { name: "  durable   world " } });
  if (started.status !== 201) {
    console.error(`  start failed: ${started.status} ${JSON.stringify(started.json)}`);
    return false;
  }
  const id = (started.json as { id: string }).id;
  console.log(`  execution id: ${id}`);
  const deadline = Date.now() + 60_000;
  let execution: { status: string; output?: unknown; error?: unknown } = { status: "running" };
  while (Date.now() < deadline) {
    execution = (await api(stack, "GET", `/executions/${id}`)).json as typeof execution;
    if (["completed", "failed", "canceled"].includes(execution.status)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`  status: ${execution.status}`);
  if (execution.output !== undefined) console.log(`  output: ${JSON.stringify(execution.output)}`);
  if (execution.error !== undefined) console.log(`  error:  ${JSON.stringify(execution.error)}`);
  const history = (await api(stack, "GET", `/executions/${id}/history`)).json as { events: { seq: number; type: string; name?: string; at: string }[] };
  console.log("  history:");
  for (const e of history.events) console.log(`    ${String(e.seq).padStart(3)}  ${e.at}  ${e.type}${e.name ? ` "${e.name}"` : ""}`);
  return execution.status === "completed";
}

async function main(): Promise<void> {
  const requested = Number(process.env.PORT ?? 3000);
  const port = (await portIsFree(requested)) ? requested : 0;
  const dataDir = resolve(root, process.env.DURABLE_DATA_DIR ?? join(root, ".data"));
  console.log("Starting the local stack: DynamoDB Local (Java), the SQS emulator, the API and the worker…");
  const stack = await startLocalStack({
    workflows,
    dataDir,
    port,
    logger: consoleLogger,
    ...(process.env.DURABLE_TOKEN ? { bearerToken: process.env.DURABLE_TOKEN } : {}),
  });
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping the local stack…");
    await stack.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  console.log(`  API:            ${stack.apiUrl}`);
  console.log(`  bearer token:   ${stack.bearerToken}`);
  console.log(`  DynamoDB Local: ${stack.endpoints.dynamoEndpoint} (table ${stack.tableName}, data in ${dataDir})`);
  console.log(`  SQS emulator:   ${stack.endpoints.sqsEndpoint} (queue ${stack.queueUrl.split("/").pop()}, DLQ ${stack.deadLetterQueueUrl.split("/").pop()})`);

  const ok = await runDemo(stack);
  if (process.env.DURABLE_EXIT_AFTER_DEMO === "1") return shutdown(ok ? 0 : 1);

  const auth = `-H "authorization: Bearer ${stack.bearerToken}"`;
  console.log(`
Try it yourself (workflows: ${workflows.map((w) => w.name).join(", ")}):
  curl -s ${auth} -H "content-type: application/json" \\
       -d '{"workflow":"greet","input":{"name":"you"}}' ${stack.apiUrl}/executions
  curl -s ${auth} ${stack.apiUrl}/executions/<id>
  curl -s ${auth} ${stack.apiUrl}/executions/<id>/history
  # an approval that waits for a signal:
  curl -s ${auth} -H "content-type: application/json" -d '{"workflow":"approval","input":{"request":"laptop"}}' ${stack.apiUrl}/executions
  curl -s ${auth} -H "content-type: application/json" -d '{"approved":true,"by":"ana"}' ${stack.apiUrl}/executions/<id>/signals/decision

Serving until Ctrl-C. Executions survive a restart (data in ${dataDir}).`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
