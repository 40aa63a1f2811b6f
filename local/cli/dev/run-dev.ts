/**
 * `durable dev`: the local stack serving the workflows file, reloaded on every save. Builds the
 * file first (a broken file fails in a second, before Java starts), boots DynamoDB Local, the SQS
 * emulator, the API and the worker, prints where everything is, then reports executions, reloads
 * and waits until stopped.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { createPayloadCodecs, type PayloadCodecs } from "../../../lambdas/payloads/codec.js";
import { gzipCodec } from "../../../lambdas/payloads/gzip.js";
import { localEnvelopeCodec } from "../../../lambdas/payloads/local-envelope.js";
import type { AnyWorkflow } from "../../../lambdas/core/workflow.js";
import { DYNAMODB_LOCAL_VERSION, dynamoDBLocalDir, isDynamoDBLocalInstalled } from "../../dynamodb-local.js";
import { type LocalStack, startLocalStack } from "../../stack.js";
import { CliError } from "../cli-error.js";
import { removeDevDiscovery, writeDevDiscovery } from "../ops/dev-discovery.js";
import { createActivityLog } from "./activity.js";
import { banner, workflowList } from "./banner.js";
import { watchLeaseWaits } from "./lease-waits.js";
import type { DevOptions } from "./options.js";
import { isPortFree } from "./port.js";
import { startLocalSchedules } from "./schedules.js";
import type { ScheduleDefinition } from "../../../lambdas/starts/definitions.js";
import { createWorkflowsBundler, type ReloadOutcome, WorkflowsLoadError } from "./workflows-bundle.js";

export interface DevOutput {
  /** A line (or lines) for the person at the terminal. */
  print(text: string): void;
}

export interface DevServer {
  stack: LocalStack;
  options: DevOptions;
  /** Stops watching, the worker, the API and the services (DynamoDB Local's JVM included). */
  stop(): Promise<void>;
}

const consoleOutput: DevOutput = { print: (text) => console.log(text) };

/**
 * @example
 * const server = await startDevServer(await resolveDevOptions({}, { cwd: process.cwd(), env: process.env }));
 * stopOnSignals(server);
 */
export async function startDevServer(options: DevOptions, output: DevOutput = consoleOutput): Promise<DevServer> {
  const shown = relative(options.projectDir, options.workflowsFile) || options.workflowsFile;
  const activity = createActivityLog({ print: output.print, verbose: process.env.DURABLE_LOG_LEVEL === "debug" });
  const bundler = await createWorkflowsBundler({
    workflowsFile: options.workflowsFile,
    projectDir: options.projectDir,
    outDir: join(options.projectDir, ".durable", "build"),
  });
  let stack: LocalStack | undefined;
  try {
    const loaded = await bundler.load().catch((error: unknown) => {
      if (error instanceof WorkflowsLoadError) throw new CliError(error.code, error.message, `${error.remedy}, then run durable dev again`, { cause: error });
      throw error;
    });

    let port = options.port;
    let portTaken: number | undefined;
    if (port !== 0 && !(await isPortFree(port))) {
      if (options.portRequired) throw new CliError("PORT_IN_USE", `port ${port} is in use`, "stop what holds it, or pick another with --port (0: any free port)");
      portTaken = port;
      port = 0;
    }

    if (!(await isDynamoDBLocalInstalled())) {
      output.print(`Fetching DynamoDB Local ${DYNAMODB_LOCAL_VERSION} (first run only, ~56 MB) into ${dynamoDBLocalDir()}…`);
    }
    output.print("Starting DynamoDB Local (Java), the SQS emulator, the API and the worker…");
    stack = await startLocalStack({
      workflows: loaded.workflows,
      port,
      bearerToken: options.token,
      ...(options.tenants.length === 0 ? {} : { tenants: options.tenants }),
      logger: activity.logger,
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.payloadKey === undefined ? {} : { payloads: { codecs: await devPayloadCodecs(options.payloadKey) } }),
    });
    for (const warning of stack.warnings) output.print(`note: ${warning}`);
    const schedules = startLocalSchedules({ deps: stack.apiDeps, schedules: loaded.schedules, note: activity.note });
    // One write: whoever reads the banner (a person, a script waiting for "Ctrl-C") sees the schedules with it.
    const shownBanner = banner({ options, apiUrl: stack.apiUrl, workflows: loaded.workflows, inputs: loaded.inputs, tenantTokens: stack.tenantTokens, ...(portTaken === undefined ? {} : { portTaken }) });
    output.print(loaded.schedules.length > 0 ? `${shownBanner}${scheduleLines(loaded.schedules, schedules.nextFireAt())}` : shownBanner);

    const leaseWaits = watchLeaseWaits({ store: stack.deps.store, workerId: stack.deps.workerId, print: activity.note });
    // After a restart the waits are there from the first second: say so at once, not in 5 s.
    await leaseWaits.check().catch(() => undefined);

    let served: readonly AnyWorkflow[] = loaded.workflows;
    const running = stack;
    const onReload = (outcome: ReloadOutcome) => {
      if (!outcome.ok) {
        activity.note(`reload failed: ${outcome.error.message} (${outcome.error.remedy}; still serving the workflows loaded before)`);
        return;
      }
      const next = outcome.loaded.workflows;
      try {
        running.replaceWorkflows(next);
        schedules.replace(outcome.loaded.schedules);
      } catch (error) {
        activity.note(`reload failed: ${error instanceof Error ? error.message : String(error)} (still serving the workflows loaded before)`);
        return;
      }
      const gone = served.filter((old) => !next.some((w) => w.name === old.name && w.version === old.version));
      served = next;
      const goneNote = gone.length === 0 ? "" : `; no longer served: ${workflowList(gone)} (their running executions retry until it is back)`;
      activity.note(`reloaded ${shown}${outcome.unchanged ? " (unchanged)" : ""}: ${next.length === 0 ? "no workflows" : workflowList(next)}${goneNote}`);
    };
    if (options.watch) await bundler.watch(onReload);
    else await bundler.dispose();

    // Last, once everything answers: `durable list`, `watch`, ... find this server through it.
    // With tenants, the commands act as the first tenant (the token of no tenant is refused then).
    const commandToken = Object.values(running.tenantTokens)[0] ?? options.token;
    const discovery = await writeDevDiscovery(options.projectDir, { url: running.apiUrl, token: commandToken, pid: process.pid, startedAt: new Date().toISOString() }).catch(
      (error: unknown) => {
        output.print(`note: could not write ${join(options.projectDir, ".durable", "dev.json")} (${error instanceof Error ? error.message : String(error)}): durable commands then need --url and --token`);
        return undefined;
      },
    );

    let stopping: Promise<void> | undefined;
    return {
      stack: running,
      options,
      stop: () => {
        stopping ??= (async () => {
          // Requests failing while the services go down are expected: not worth a line each.
          activity.mute();
          if (discovery !== undefined) await removeDevDiscovery(options.projectDir, process.pid).catch(() => undefined);
          leaseWaits.stop();
          schedules.stop();
          await bundler.dispose().catch(() => undefined);
          await running.stop();
          activity.flush();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await bundler.dispose().catch(() => undefined);
    await stack?.stop();
    throw error;
  }
}

/**
 * Ctrl-C (SIGINT) or SIGTERM stops the server and exits 0; a second one exits at once (the JVM
 * is killed on the way out either way, see dynamodb-local.ts).
 */
export function stopOnSignals(server: DevServer, output: DevOutput = consoleOutput): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(signal === "SIGINT" ? 130 : 143);
    stopping = true;
    output.print("\nStopping…");
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`durable: could not stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

/** What the banner adds when the workflows file exports schedules. */
function scheduleLines(list: readonly ScheduleDefinition[], next: Date | undefined): string {
  const names = list.map((s) => `${s.name} (${s.cron === undefined ? `rate ${s.rate}` : `cron ${s.cron}${s.timezone ? ` ${s.timezone}` : ""}`} → ${s.workflow})`).join(", ");
  return `  schedules  ${names}\n             fired here as EventBridge Scheduler fires them${next === undefined ? "" : `; next ${next.toISOString()}`}\n`;
}

/**
 * What `--encrypt-values` seals with: gzip, then envelope encryption under a local master key, the
 * deployed KMS codec's shape. The key is kept in `keyFile` (owner-only) so values kept in the data
 * folder stay readable after a restart; "memory": a new key for this run.
 */
export async function devPayloadCodecs(keyFile: string | "memory"): Promise<PayloadCodecs> {
  let masterKey: Uint8Array;
  if (keyFile === "memory") masterKey = randomBytes(32);
  else {
    const saved = await readFile(keyFile, "utf8").catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? undefined : Promise.reject(error)));
    if (saved === undefined) {
      masterKey = randomBytes(32);
      await mkdir(dirname(keyFile), { recursive: true });
      await writeFile(keyFile, `${Buffer.from(masterKey).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    } else {
      masterKey = Buffer.from(saved.trim(), "base64");
      if (masterKey.length !== 32) throw new CliError("INVALID_PAYLOAD_KEY", `${keyFile} does not hold a 32-byte key in base64`, "delete it to make a new one (values sealed with the old key are then unreadable)");
    }
  }
  return createPayloadCodecs({ codecs: [gzipCodec(), localEnvelopeCodec({ masterKey, keyId: "dev" })] });
}
