/**
 * Benchmarks: print figures, assert nothing (machines are noisy). Run: `npm run bench`.
 *
 * Against DynamoDB Local + the SQS emulator through the real worker handler, counting every AWS
 * request and the write/read units DynamoDB reports (an SDK middleware, lambdas/store/request-meter).
 *
 *  1. cost per step: a 50-step workflow, single-put step commits vs. every commit transactional;
 *  2. steps per invocation: consecutive steps run in one invocation;
 *  3. history growth: a workflow that sleeps between 60 steps; read units per turn early vs late;
 *  4. large values: step results in their items vs offloaded to S3, priced (bench/payloads.ts).
 */
import { defineWorkflow } from "../lambdas/index.js";
import { RequestMeter } from "../lambdas/store/request-meter.js";
import { createDynamoDBTestEnvironment as createTestEnvironment, type DynamoDBTestEnvironment as TestEnvironment } from "../local/testing.js";
import { startDynamoDBLocal } from "../local/dynamodb-local.js";
import { startSqsEmulator } from "../local/sqs-emulator.js";
import { payloadBenchmark } from "./payloads.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const STEPS = 50;
const sequential = defineWorkflow("bench-sequential", async (ctx) => {
  let sum = 0;
  for (let i = 0; i < STEPS; i += 1) sum += await ctx.step(`step-${i}`, () => i);
  return sum;
});

const TURNS = 60;
const sleepy = defineWorkflow("bench-sleepy", async (ctx) => {
  for (let i = 0; i < TURNS; i += 1) {
    await ctx.step(`step-${i}`, () => ({ i, padding: "x".repeat(200) }));
    await ctx.sleep(`nap-${i}`, "1s");
  }
  return "done";
});

const EXECUTIONS = 10;

async function measureSteps(env: TestEnvironment, meter: RequestMeter, label: string): Promise<Record<string, number>> {
  meter.reset();
  const invocationsBefore = env.stats.invocations;
  const started = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < EXECUTIONS; i += 1) ids.push(await env.start(sequential, null, { run: false }));
  await env.runUntilIdle();
  const elapsed = performance.now() - started;
  for (const id of ids) if ((await env.result(id)) !== (STEPS * (STEPS - 1)) / 2) throw new Error(`${label}: wrong result`);
  const steps = EXECUTIONS * STEPS;
  const ddb = meter.total("dynamodb.");
  const puts = meter.snapshot()["dynamodb.PutItem"] ?? { requests: 0, writeUnits: 0 };
  const stepCommitUnits = puts.requests === 0 ? 0 : puts.writeUnits / puts.requests;
  const sqs = meter.total("sqs.");
  return {
    steps,
    "ddb requests/step": ddb.requests / steps,
    "write units/step": ddb.writeUnits / steps,
    "write units per step commit (single put)": stepCommitUnits,
    "read units/step": ddb.readUnits / steps,
    "sqs requests/execution": sqs.requests / EXECUTIONS,
    "worker invocations/execution": (env.stats.invocations - invocationsBefore) / EXECUTIONS,
    "ms/step (wall)": elapsed / steps,
  };
}

async function main(): Promise<void> {
  const [dynamo, sqs] = await Promise.all([startDynamoDBLocal(), startSqsEmulator()]);
  const endpoints = { dynamoEndpoint: dynamo.endpoint, sqsEndpoint: sqs.endpoint };
  try {
    console.log(`# durable-aws benchmark (${new Date().toISOString()}, Node ${process.version})\n`);

    const single = await createTestEnvironment({ endpoints, workflows: [sequential, sleepy] });
    const warm = await createTestEnvironment({ endpoints, workflows: [sleepy], warmRuns: true });
    const warmMeter = new RequestMeter().attach(warm.clients.dynamo, "dynamodb");
    const singleMeter = new RequestMeter().attach(single.clients.dynamo, "dynamodb").attach(single.clients.sqs, "sqs");
    const transactional = await createTestEnvironment({ endpoints, workflows: [sequential], storeOptions: { singlePutSteps: false } });
    const txMeter = new RequestMeter().attach(transactional.clients.dynamo, "dynamodb").attach(transactional.clients.sqs, "sqs");

    await measureSteps(single, singleMeter, "warm-up");
    const a = await measureSteps(single, singleMeter, "single put");
    const b = await measureSteps(transactional, txMeter, "transactional");
    console.log(`## 1. Cost per step: ${EXECUTIONS} executions × ${STEPS} sequential steps`);
    console.log("| figure | single-put step commits (default) | every commit transactional | ratio |");
    console.log("|---|---|---|---|");
    for (const key of Object.keys(a)) {
      const x = a[key] as number;
      const y = b[key] as number;
      if (key.includes("single put")) {
        console.log(`| ${key} | ${fmt(x)} | – | – |`);
        continue;
      }
      console.log(`| ${key} | ${fmt(x)} | ${fmt(y)} | ${y === 0 ? "–" : fmt(x / y)} |`);
    }

    console.log(`\n## 2. History growth: one execution, ${TURNS} turns (step + 1 s sleep each)`);
    console.log("| worker | read units/turn, turns 1–10 | turns 51–60 | late/early | ms/turn, turns 1–10 | turns 51–60 |");
    console.log("|---|---|---|---|---|---|");
    for (const [label, env, meter] of [["cold (full replay every turn)", single, singleMeter], ["warm (default in Lambda)", warm, warmMeter]] as const) {
      meter.reset();
      const id = await env.start(sleepy, null);
      const units: number[] = [];
      const ms: number[] = [];
      for (let i = 0; i < TURNS; i += 1) {
        const before = meter.total("dynamodb.").readUnits;
        const t0 = performance.now();
        await env.advanceTime("1s");
        ms.push(performance.now() - t0);
        units.push(meter.total("dynamodb.").readUnits - before);
      }
      if ((await env.result(id)) !== "done") throw new Error("sleepy: wrong result");
      const early = avg(units.slice(0, 10));
      const late = avg(units.slice(-10));
      console.log(`| ${label} | ${fmt(early)} | ${fmt(late)} | ${fmt(late / early)} | ${fmt(avg(ms.slice(0, 10)))} | ${fmt(avg(ms.slice(-10)))} |`);
    }

    await single.close();
    await warm.close();
    await transactional.close();

    console.log("");
    await payloadBenchmark(endpoints);
  } finally {
    await Promise.all([dynamo.stop(), sqs.stop()]);
  }
}

function avg(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 3 : 2);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
