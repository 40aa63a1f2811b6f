/**
 * `npm start` in this repository: `durable dev examples/index.ts` (the local stack serving the
 * examples, reloaded on every save) plus the demo: the `greet` workflow run end to end over HTTP,
 * its history printed.
 *
 * Environment: PORT (default 3000, a free port if taken), DURABLE_TOKEN (bearer token; random
 * when unset), DURABLE_DATA_DIR (default .durable/data), DURABLE_EXIT_AFTER_DEMO=1 (stop after
 * the demo, nothing watched), DURABLE_LOG_LEVEL=debug.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { LocalStack as Stack } from "./stack.js";

// Before anything loads the AWS SDK, hence the dynamic imports below (see local/cli/durable.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { resolveDevOptions } = await import("./cli/dev/options.js");
const { startDevServer, stopOnSignals } = await import("./cli/dev/run-dev.js");
const { oneLine } = await import("./cli/cli-error.js");

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

async function api(stack: Stack, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.bearerToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

async function runDemo(stack: Stack): Promise<boolean> {
  console.log("▶ Starting the demo workflow \"greet\" (3 steps and a 1 s durable sleep)…");
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
    if (["completed", "failed", "canceled", "terminated"].includes(execution.status)) break;
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
  const exitAfterDemo = process.env.DURABLE_EXIT_AFTER_DEMO === "1";
  const options = await resolveDevOptions(
    {
      workflowsFile: join(root, "examples", "index.ts"),
      ...(process.env.PORT === undefined ? {} : { port: Number(process.env.PORT) }),
      ...(process.env.DURABLE_DATA_DIR ? { dataDir: process.env.DURABLE_DATA_DIR } : {}),
      watch: !exitAfterDemo,
    },
    { cwd: root, env: process.env },
  );
  const server = await startDevServer(options);
  let ok = false;
  try {
    ok = await runDemo(server.stack);
  } catch (error) {
    console.error(`  demo failed: ${oneLine(error)}`);
  }
  if (exitAfterDemo) {
    await server.stop();
    process.exit(ok ? 0 : 1);
  }
  console.log("\nThe approval example waits for a signal: start it with input {\"request\":\"laptop\"}, then POST {\"approved\":true,\"by\":\"ana\"} to /executions/<id>/signals/decision.");
  stopOnSignals(server);
}

main().catch((err: unknown) => {
  console.error(`durable: ${oneLine(err)}`);
  process.exit(1);
});
