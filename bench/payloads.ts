/**
 * Large values: what keeping step results in S3 instead of in their DynamoDB items costs, per step.
 * Prints figures, asserts nothing. Run alone: `npx tsx bench/payloads.ts` (starts DynamoDB Local
 * and the S3 emulator, and stops them); `npm run bench` runs it after the other benchmarks.
 *
 * A workflow of STEPS steps, each returning a value of S bytes of JSON, run through the engine's
 * turn on a DynamoExecutionStore, in three ways of keeping values:
 *
 *   DynamoDB     no object store: values in their items (S ≤ 300 KB: an item holds at most 400 KB)
 *   S3 > 32 KB   the default: values whose stored form is above 32 KB go to S3
 *   S3 > 1 KB    the lowest threshold, for S below 32 KB only: measures offloading small values,
 *                which the default never does, to find where offloading starts to pay
 *
 * Counted per step: DynamoDB write and read units as DynamoDB Local reports them (RequestMeter) and
 * as AWS bills them (aws-units.ts, from item sizes), S3 requests and bytes (the store's
 * `objectCounts`), the bytes kept in the table and the bucket, and a cold replay (a fresh store
 * loading the ended execution's history, as a worker without a warm run does). Priced with
 * prices.ts; figures go to bench/payloads-results.json.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import { defineWorkflow, WorkflowRegistry } from "../lambdas/index.js";
import { startExecution } from "../lambdas/engine/executions.js";
import type { EngineDeps } from "../lambdas/engine/process-wakeup.js";
import { s3BlobStore, type BlobStore } from "../lambdas/payloads/blob-store.js";
import { DynamoExecutionStore } from "../lambdas/store/dynamo-store.js";
import { executionPk } from "../lambdas/store/keys.js";
import { RequestMeter } from "../lambdas/store/request-meter.js";
import { TABLE } from "../lambdas/store/schema.js";
import { DEFAULT_OFFLOAD_THRESHOLD_BYTES, MIN_OFFLOAD_THRESHOLD_BYTES } from "../lambdas/store/stored-values.js";
import { createTable } from "../lambdas/store/table.js";
import { localClients, type LocalClients, type LocalEndpoints } from "../local/aws-clients.js";
import { startDynamoDBLocal } from "../local/dynamodb-local.js";
import { startSqsEmulator } from "../local/sqs-emulator.js";
import { BilledUnitMeter, itemBytes } from "./aws-units.js";
import { runUntilIdle, WakeupList } from "./engine-driver.js";
import { costPerMillionSteps, PRICES, RETENTION_DAYS, type CostPerMillionSteps, type StepUsage } from "./prices.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const STEPS = 20;
const EXECUTIONS = 2;
const KB = 1024;
const SIZES_BYTES = [1 * KB, 30 * KB, 100 * KB, 300 * KB, 2 * KB * KB];
/** Largest value kept in its item by the DynamoDB arm. */
const INLINE_LIMIT_BYTES = 300 * KB;
/** DynamoDB counts 100 bytes of overhead per item (and per index entry) in the storage it bills. */
const ITEM_OVERHEAD_BYTES = 100;
const RESULTS_FILE = new URL("./payloads-results.json", import.meta.url);

type Arm = "dynamodb" | "s3-above-32KB" | "s3-above-1KB";
const ARM_LABEL: Record<Arm, string> = { dynamodb: "DynamoDB", "s3-above-32KB": "S3 > 32 KB", "s3-above-1KB": "S3 > 1 KB" };

/** Each step returns a string whose JSON is `valueBytes` long; the output is their total length, a number. */
const largeSteps = defineWorkflow("bench-large-steps", async (ctx, input: { valueBytes: number; steps: number }) => {
  let chars = 0;
  for (let i = 0; i < input.steps; i += 1) chars += (await ctx.step(`step-${i}`, () => "x".repeat(input.valueBytes - 2))).length;
  return chars;
});

interface CellFigures {
  valueBytes: number;
  arm: Arm;
  steps: number;
  perStep: {
    localWriteUnits: number;
    awsWriteUnits: number;
    localReadUnits: number;
    awsReadUnits: number;
    s3Puts: number;
    s3Gets: number;
    s3PutBytes: number;
    s3GetBytes: number;
    dynamoStoredBytes: number;
    s3StoredBytes: number;
    wallMs: number;
  };
  coldReplayPerStep: {
    localReadUnits: number;
    awsReadUnits: number;
    s3Gets: number;
    s3GetBytes: number;
    wallMs: number;
  };
  costPerMillionStepsUsd: CostPerMillionSteps;
}

interface Bench {
  clients: LocalClients;
  /** Unmetered clients: reads of what was stored, outside the figures. */
  inspect: LocalClients;
  tableName: string;
  blobs: BlobStore;
  meter: RequestMeter;
  billed: BilledUnitMeter;
}

function storeFor(bench: Bench, arm: Arm): DynamoExecutionStore {
  const thresholdBytes = arm === "s3-above-1KB" ? MIN_OFFLOAD_THRESHOLD_BYTES : DEFAULT_OFFLOAD_THRESHOLD_BYTES;
  return new DynamoExecutionStore({
    client: bench.clients.doc,
    tableName: bench.tableName,
    ...(arm === "dynamodb" ? {} : { payloads: { blobs: bench.blobs, offloadThresholdBytes: thresholdBytes } }),
  });
}

/** Bytes DynamoDB bills as storage for an execution's partition: items and their index entries. */
async function storedBytes(bench: Bench, executionId: string): Promise<number> {
  let bytes = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await bench.inspect.doc.send(
      new QueryCommand({ TableName: bench.tableName, KeyConditionExpression: "PK = :pk", ExpressionAttributeValues: { ":pk": executionPk(executionId) }, ExclusiveStartKey: startKey }),
    );
    for (const item of out.Items ?? []) {
      bytes += itemBytes(item) + ITEM_OVERHEAD_BYTES;
      for (const index of Object.values(TABLE.indexes)) {
        const names = [TABLE.partitionKey.name, TABLE.sortKey.name, index.partitionKey.name, index.sortKey.name, ...index.include];
        if (item[index.partitionKey.name] === undefined || item[index.sortKey.name] === undefined) continue;
        bytes += itemBytes(Object.fromEntries(names.filter((name) => item[name] !== undefined).map((name) => [name, item[name]]))) + ITEM_OVERHEAD_BYTES;
      }
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return bytes;
}

async function measure(bench: Bench, valueBytes: number, arm: Arm): Promise<CellFigures> {
  const store = storeFor(bench, arm);
  const wakeups = new WakeupList();
  const deps: EngineDeps = { store, scheduler: wakeups, registry: new WorkflowRegistry([largeSteps]), clock: Date.now, random: Math.random, workerId: "bench/payloads" };
  const ids = Array.from({ length: EXECUTIONS }, (_, i) => `payloads-${arm}-${valueBytes}-${i}-${randomUUID().slice(0, 8)}`);
  const steps = EXECUTIONS * STEPS;

  bench.meter.reset();
  bench.billed.reset();
  const runStarted = performance.now();
  for (const id of ids) {
    await startExecution(deps, { workflow: largeSteps.name, id, input: { valueBytes, steps: STEPS } });
    await runUntilIdle(deps, wakeups);
  }
  const runMs = performance.now() - runStarted;
  const run = { local: bench.meter.total("dynamodb."), writeUnits: bench.billed.writeUnits, readUnits: bench.billed.readUnits, objects: store.objectCounts };

  let dynamoStored = 0;
  for (const id of ids) {
    const execution = await store.getExecution(id);
    if (execution?.status !== "completed" || execution.output !== STEPS * (valueBytes - 2)) throw new Error(`${arm} ${valueBytes} B: execution ${id} did not complete as expected`);
    dynamoStored += await storedBytes(bench, id);
  }

  // A fresh store has no object cache: what a worker without a warm run reads to replay.
  const fresh = storeFor(bench, arm);
  bench.meter.reset();
  bench.billed.reset();
  const replayStarted = performance.now();
  for (const id of ids) {
    const snapshot = await fresh.loadSnapshot(id, { nowMs: Date.now() });
    const results = (snapshot?.history ?? []).filter((event) => event.type === "StepCompleted");
    if (results.length !== STEPS || results.some((event) => (event as { result?: unknown }).result !== "x".repeat(valueBytes - 2))) {
      throw new Error(`${arm} ${valueBytes} B: replay of ${id} read other values`);
    }
  }
  const replayMs = performance.now() - replayStarted;
  const replayObjects = fresh.objectCounts;

  const perStep = {
    localWriteUnits: run.local.writeUnits / steps,
    awsWriteUnits: run.writeUnits / steps,
    localReadUnits: run.local.readUnits / steps,
    awsReadUnits: run.readUnits / steps,
    s3Puts: run.objects.puts / steps,
    s3Gets: run.objects.gets / steps,
    s3PutBytes: run.objects.putBytes / steps,
    s3GetBytes: run.objects.getBytes / steps,
    dynamoStoredBytes: dynamoStored / steps,
    // Keys are content hashes: each PUT is one object kept for the retention.
    s3StoredBytes: run.objects.putBytes / steps,
    wallMs: runMs / steps,
  };
  const coldReplayPerStep = {
    localReadUnits: bench.meter.total("dynamodb.").readUnits / steps,
    awsReadUnits: bench.billed.readUnits / steps,
    s3Gets: replayObjects.gets / steps,
    s3GetBytes: replayObjects.getBytes / steps,
    wallMs: replayMs / steps,
  };
  const usage: StepUsage = {
    writeUnits: perStep.awsWriteUnits,
    readUnits: perStep.awsReadUnits,
    s3Puts: perStep.s3Puts,
    s3Gets: perStep.s3Gets,
    dynamoBytes: perStep.dynamoStoredBytes,
    s3Bytes: perStep.s3StoredBytes,
    replayReadUnits: coldReplayPerStep.awsReadUnits,
    replayS3Gets: coldReplayPerStep.s3Gets,
  };
  return { valueBytes, arm, steps, perStep, coldReplayPerStep, costPerMillionStepsUsd: costPerMillionSteps(usage) };
}

interface BreakEven {
  /** Value size (bytes of JSON) from which offloading costs less in total; undefined if it never does in the range measured. */
  valueBytes?: number;
  statement: string;
}

/**
 * Where the total cost of keeping the value in DynamoDB crosses that of offloading it, interpolated
 * linearly between the measured sizes on either side (the offloading arm at each size is the one
 * that did offload: S3 > 1 KB below 32 KB, S3 > 32 KB above).
 */
function breakEven(cells: readonly CellFigures[]): BreakEven {
  const points: { valueBytes: number; inline: number; offloaded: number }[] = [];
  for (const valueBytes of SIZES_BYTES) {
    const inline = cells.find((c) => c.valueBytes === valueBytes && c.arm === "dynamodb");
    const offloaded = cells.find((c) => c.valueBytes === valueBytes && c.arm !== "dynamodb" && c.perStep.s3Puts > 0);
    if (inline && offloaded) points.push({ valueBytes, inline: inline.costPerMillionStepsUsd.total, offloaded: offloaded.costPerMillionStepsUsd.total });
  }
  const usd = (n: number) => `$${n.toFixed(2)}`;
  const at = (p: { valueBytes: number; inline: number; offloaded: number }) => `${sizeLabel(p.valueBytes)}: ${usd(p.inline)} in DynamoDB vs ${usd(p.offloaded)} offloaded`;
  const firstCheaper = points.findIndex((p) => p.offloaded < p.inline);
  if (firstCheaper < 0) return { statement: `Offloading never costs less than keeping the value in DynamoDB in the sizes measured (${points.map(at).join("; ")}, per million steps).` };
  const above = points[firstCheaper] as (typeof points)[number];
  if (firstCheaper === 0) return { valueBytes: above.valueBytes, statement: `Offloading costs less at every size measured, from ${at(above)} per million steps.` };
  const below = points[firstCheaper - 1] as (typeof points)[number];
  const gapBelow = below.inline - below.offloaded;
  const gapAbove = above.inline - above.offloaded;
  const crossing = Math.round(below.valueBytes + ((above.valueBytes - below.valueBytes) * -gapBelow) / (gapAbove - gapBelow));
  const threshold = DEFAULT_OFFLOAD_THRESHOLD_BYTES;
  // A measured size between the crossing and the threshold: kept where it costs more.
  const between = points.filter((p) => (p.valueBytes - crossing) * (p.valueBytes - threshold) < 0).at(crossing < threshold ? -1 : 0);
  let consequence = "";
  if (between !== undefined && crossing < threshold) {
    consequence = ` The default threshold offloads above ${sizeLabel(threshold)}, so values from ${(crossing / KB).toFixed(1)} KB to ${sizeLabel(threshold)} stay in DynamoDB: at ${sizeLabel(between.valueBytes)} that costs ${(between.inline / between.offloaded).toFixed(1)}× what offloading would.`;
  } else if (between !== undefined) {
    consequence = ` The default threshold offloads above ${sizeLabel(threshold)}, so values from there to ${(crossing / KB).toFixed(1)} KB are offloaded: at ${sizeLabel(between.valueBytes)} that costs ${(between.offloaded / between.inline).toFixed(1)}× what DynamoDB would.`;
  }
  return {
    valueBytes: crossing,
    statement:
      `Offloading becomes cheaper than keeping the value in DynamoDB at about ${(crossing / KB).toFixed(1)} KB per value ` +
      `(linear between the measured ${at(below)} and ${at(above)}; USD per million steps: requests, ${RETENTION_DAYS}-day storage, one cold replay).${consequence}`,
  };
}

function sizeLabel(bytes: number): string {
  return bytes >= KB * KB ? `${bytes / (KB * KB)} MB` : `${bytes / KB} KB`;
}

function fmt(n: number): string {
  if (n === 0) return "0";
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(Math.abs(n) < 1 ? 3 : 2);
}

function printTables(cells: readonly CellFigures[]): void {
  console.log(`| value | kept in | WRU (Local) | WRU (AWS) | RRU (Local) | RRU (AWS) | S3 PUT | S3 GET | S3 KB up | KB in table | KB in S3 | replay RRU (Local) | replay RRU (AWS) | replay S3 GET | replay S3 KB | ms/step |`);
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`);
  for (const c of cells) {
    const p = c.perStep;
    const r = c.coldReplayPerStep;
    console.log(
      `| ${sizeLabel(c.valueBytes)} | ${ARM_LABEL[c.arm]} | ${fmt(p.localWriteUnits)} | ${fmt(p.awsWriteUnits)} | ${fmt(p.localReadUnits)} | ${fmt(p.awsReadUnits)} | ${fmt(p.s3Puts)} | ${fmt(p.s3Gets)} | ${fmt(p.s3PutBytes / KB)} | ${fmt(p.dynamoStoredBytes / KB)} | ${fmt(p.s3StoredBytes / KB)} | ${fmt(r.localReadUnits)} | ${fmt(r.awsReadUnits)} | ${fmt(r.s3Gets)} | ${fmt(r.s3GetBytes / KB)} | ${fmt(p.wallMs)} |`,
    );
  }
  console.log(
    "\nWRU (Local): as DynamoDB Local reports them; it counts each transaction (an execution's start and its end) at far more than AWS's 2 units per KB per item. " +
      "WRU and RRU (AWS): from item sizes, as AWS bills on demand (bench/aws-units.ts); these are priced.",
  );
  console.log(`\nUSD per million steps (${PRICES.region} list prices of ${PRICES.asOf}; storage for ${RETENTION_DAYS} days; one cold replay per step):`);
  console.log(`| value | kept in | requests | storage | cold replay | total |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const c of cells) {
    const cost = c.costPerMillionStepsUsd;
    console.log(`| ${sizeLabel(c.valueBytes)} | ${ARM_LABEL[c.arm]} | ${cost.requests.toFixed(2)} | ${cost.storage.toFixed(2)} | ${cost.replay.toFixed(2)} | ${cost.total.toFixed(2)} |`);
  }
}

export interface PayloadResults {
  generatedAt: string;
  node: string;
  stepsPerExecution: number;
  executionsPerCell: number;
  offloadThresholdBytes: number;
  prices: typeof PRICES;
  assumptions: Record<string, string>;
  cells: CellFigures[];
  breakEven: BreakEven;
}

/** Runs the payload benchmark on running services (DynamoDB Local, and the emulator serving S3), prints it and writes the JSON. */
export async function payloadBenchmark(endpoints: LocalEndpoints): Promise<PayloadResults> {
  const suffix = randomUUID().slice(0, 8);
  const clients = localClients(endpoints);
  const inspect = localClients(endpoints);
  const tableName = `bench-payloads-${suffix}`;
  const bucket = `bench-payloads-${suffix}`;
  await createTable(clients.dynamo, tableName);
  await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const bench: Bench = {
    clients,
    inspect,
    tableName,
    blobs: s3BlobStore({ client: clients.s3, bucket }),
    meter: new RequestMeter().attach(clients.dynamo, "dynamodb"),
    billed: new BilledUnitMeter().attach(clients.dynamo),
  };
  try {
    console.log(`## Large values: ${EXECUTIONS} executions × ${STEPS} steps per row, each step returning a value of the size shown; figures per step\n`);
    // Warm-up (not recorded): the first executions pay for loading and compiling the code.
    await measure(bench, SIZES_BYTES[0] as number, "s3-above-32KB");
    const cells: CellFigures[] = [];
    for (const valueBytes of SIZES_BYTES) {
      const arms: Arm[] = [];
      if (valueBytes <= INLINE_LIMIT_BYTES) arms.push("dynamodb");
      arms.push("s3-above-32KB");
      if (valueBytes < DEFAULT_OFFLOAD_THRESHOLD_BYTES) arms.push("s3-above-1KB");
      for (const arm of arms) cells.push(await measure(bench, valueBytes, arm));
    }
    printTables(cells);
    const even = breakEven(cells);
    console.log(`\n${even.statement}`);
    const results: PayloadResults = {
      generatedAt: new Date().toISOString(),
      node: process.version,
      stepsPerExecution: STEPS,
      executionsPerCell: EXECUTIONS,
      offloadThresholdBytes: DEFAULT_OFFLOAD_THRESHOLD_BYTES,
      prices: PRICES,
      assumptions: {
        retention: `values stored for ${RETENTION_DAYS} days (the store's default retention of an ended execution), billed pro rata by the month`,
        awsUnits: "computed from item sizes: 1 WRU per KB (2 transactional), 1 RRU per 4 KB strongly consistent; writes to indexes not counted (see bench/aws-units.ts)",
        localUnits: "as DynamoDB Local reports ConsumedCapacity; not used for prices",
        coldReplay: "one per step: a fresh store (no object cache) loads the ended execution's history",
        notPriced: "Lambda, SQS, data transfer, free tiers",
        gib: "storage in GiB (1024^3 bytes); DynamoDB storage adds 100 bytes per item and per index entry",
      },
      cells,
      breakEven: even,
    };
    await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nFigures written to bench/payloads-results.json`);
    return results;
  } finally {
    await clients.dynamo.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    for (const c of [clients, inspect]) {
      c.dynamo.destroy();
      c.s3.destroy();
      c.sqs.destroy();
    }
  }
}

async function main(): Promise<void> {
  const [dynamo, emulator] = await Promise.all([startDynamoDBLocal(), startSqsEmulator()]);
  try {
    console.log(`# durable-aws payload benchmark (${new Date().toISOString()}, Node ${process.version})\n`);
    await payloadBenchmark({ dynamoEndpoint: dynamo.endpoint, sqsEndpoint: emulator.endpoint });
  } finally {
    await Promise.all([dynamo.stop(), emulator.stop()]);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
