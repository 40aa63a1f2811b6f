/**
 * The DynamoDB test kit shares its services: one DynamoDB Local JVM and one SQS emulator for
 * every environment of a process (started on first use), or for a whole test run with the
 * global setup, which hands them to vitest's workers through DURABLE_TEST_* variables.
 */
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { localClients } from "../../local/aws-clients.js";
import {
  createDynamoDBTestEnvironment,
  DYNAMODB_ENDPOINT_VARIABLE,
  SQS_ENDPOINT_VARIABLE,
  startTestServices,
  stopTestServices,
} from "../../local/testing.js";
import { javaChildren } from "./processes.js";

const greet = defineWorkflow("services-greet", async (ctx, name: string) => {
  await ctx.sleep("nap", "1h");
  return ctx.step("greet", () => `hi ${name}`);
});

const VARIABLES = [DYNAMODB_ENDPOINT_VARIABLE, SQS_ENDPOINT_VARIABLE] as const;
let saved: Record<string, string | undefined>;

// These tests are about the kit starting services itself: no endpoints from the shell.
beforeAll(() => {
  saved = Object.fromEntries(VARIABLES.map((v) => [v, process.env[v]]));
  for (const v of VARIABLES) delete process.env[v];
});

afterAll(async () => {
  await stopTestServices();
  for (const v of VARIABLES) if (saved[v] === undefined) delete process.env[v];
  else process.env[v] = saved[v];
});

/** Whether something accepts TCP connections at the endpoint's port. */
function answers(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

describe("DynamoDB test environments given no endpoints, in one process", () => {
  it("share one DynamoDB Local and one emulator, started on first use, each environment with its own table and queue", async () => {
    expect(javaChildren(process.pid)).toBe(0);
    const envs = await Promise.all(Array.from({ length: 10 }, () => createDynamoDBTestEnvironment({ workflows: [greet] })));
    expect(javaChildren(process.pid)).toBe(1);
    expect(new Set(envs.map((e) => JSON.stringify(e.endpoints))).size).toBe(1);
    expect(new Set(envs.map((e) => e.tableName)).size).toBe(10);
    expect(new Set(envs.map((e) => e.queueUrl)).size).toBe(10);
    for (const [i, env] of envs.entries()) {
      const id = await env.start(greet, `env ${i}`);
      await env.advanceTime("1h");
      expect(await env.result(id)).toBe(`hi env ${i}`);
    }

    // Closing removes an environment's table and queue; the services stay up for the next one.
    const endpoints = (envs[0] as (typeof envs)[0]).endpoints;
    await Promise.all(envs.map((e) => e.close()));
    const clients = localClients(endpoints);
    const tables = (await clients.dynamo.send(new ListTablesCommand({}))).TableNames ?? [];
    const queues = (await clients.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
    clients.dynamo.destroy();
    clients.sqs.destroy();
    expect(tables.filter((t) => envs.some((e) => e.tableName === t))).toEqual([]);
    expect(queues.filter((q) => envs.some((e) => e.queueUrl === q))).toEqual([]);
    const next = await createDynamoDBTestEnvironment({ workflows: [greet] });
    expect(next.endpoints).toEqual(endpoints);
    await next.close();
    expect(javaChildren(process.pid)).toBe(1);

    // stopTestServices ends them; an environment after that starts a new pair.
    await stopTestServices();
    expect(javaChildren(process.pid)).toBe(0);
    expect(await answers(endpoints.dynamoEndpoint)).toBe(false);
    expect(await answers(endpoints.sqsEndpoint)).toBe(false);
    const again = await createDynamoDBTestEnvironment({ workflows: [greet] });
    expect(javaChildren(process.pid)).toBe(1);
    const id = await again.start(greet, "again");
    await again.advanceTime("1h");
    expect(await again.result(id)).toBe("hi again");
    await again.close();
    await stopTestServices();
  }, 120_000);

  it("use the services the endpoint variables name, and refuse half a pair", async () => {
    // startTestServices names its services in the variables: what a global setup leaves for workers.
    const endpoints = await startTestServices();
    expect([process.env[DYNAMODB_ENDPOINT_VARIABLE], process.env[SQS_ENDPOINT_VARIABLE]]).toEqual([endpoints.dynamoEndpoint, endpoints.sqsEndpoint]);
    const env = await createDynamoDBTestEnvironment({ workflows: [greet] });
    expect(env.endpoints).toEqual(endpoints);
    await env.close();

    delete process.env[SQS_ENDPOINT_VARIABLE];
    await expect(createDynamoDBTestEnvironment({ workflows: [greet] })).rejects.toMatchObject({
      code: "TEST_SERVICES_CONFIG",
      message: expect.stringContaining(`${SQS_ENDPOINT_VARIABLE} is not set but ${DYNAMODB_ENDPOINT_VARIABLE} is`),
    });
    process.env[SQS_ENDPOINT_VARIABLE] = "not a url";
    await expect(createDynamoDBTestEnvironment({ workflows: [greet] })).rejects.toMatchObject({ code: "TEST_SERVICES_CONFIG", details: { variable: SQS_ENDPOINT_VARIABLE } });

    await stopTestServices();
    expect(VARIABLES.map((v) => process.env[v])).toEqual([undefined, undefined]);
    expect(javaChildren(process.pid)).toBe(0);
  }, 120_000);
});

describe("the vitest global setup", () => {
  it("starts the services once for a run: test files in separate workers share them, and none starts a JVM", async () => {
    const fixture = fileURLToPath(new URL("fixtures/shared-services/vitest.config.ts", import.meta.url));
    const out = await mkdtemp(join(tmpdir(), "durable-shared-services-"));
    try {
      const vitest = fileURLToPath(new URL("../../node_modules/vitest/vitest.mjs", import.meta.url));
      const run = spawn(process.execPath, [vitest, "run", "--config", fixture], {
        cwd: fileURLToPath(new URL("../..", import.meta.url)),
        env: { ...process.env, DURABLE_FIXTURE_OUT: out },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      run.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      run.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => run.once("exit", resolve));
      expect(code, output).toBe(0);

      const notes = await Promise.all(
        ["a", "b"].map(
          async (file) =>
            JSON.parse(await readFile(join(out, `${file}.json`), "utf8")) as {
              pid: number;
              endpoints: { dynamoEndpoint: string; sqsEndpoint: string }[];
              variables: { dynamo: string; sqs: string };
              tables: string[];
              javaChildren: number;
            },
        ),
      );
      const [a, b] = notes as [(typeof notes)[0], (typeof notes)[0]];
      expect(a.pid).not.toBe(b.pid);
      const all = [...a.endpoints, ...b.endpoints];
      expect(all).toHaveLength(10);
      expect(new Set(all.map((e) => JSON.stringify(e))).size).toBe(1);
      expect(all[0]).toEqual({ dynamoEndpoint: a.variables.dynamo, sqsEndpoint: a.variables.sqs });
      expect(new Set([...a.tables, ...b.tables]).size).toBe(10);
      expect([a.javaChildren, b.javaChildren]).toEqual([0, 0]);
      // The teardown stopped them with the run.
      expect(await answers(a.variables.dynamo)).toBe(false);
      expect(await answers(a.variables.sqs)).toBe(false);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 180_000);
});
