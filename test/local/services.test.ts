import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localClients } from "../../local/aws-clients.js";
import {
  DynamoDBLocalStartError,
  JavaNotFoundError,
  JavaVersionError,
  ensureDynamoDBLocal,
  startDynamoDBLocal,
} from "../../local/dynamodb-local.js";
import { testClients, uniqueName } from "../support/services.js";

const { dynamo, doc, sqs } = testClients();

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "durable-services-test-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  dynamo.destroy();
  sqs.destroy();
});

async function createTable(client: DynamoDBClient, name: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    }),
  );
}

describe("DynamoDB Local", () => {
  it("stores an item and returns it on a consistent read", async () => {
    const table = uniqueName("services");
    await createTable(dynamo, table);

    await doc.send(new PutCommand({ TableName: table, Item: { pk: "a", n: 1, gone: undefined } }));
    const { Item } = await doc.send(new GetCommand({ TableName: table, Key: { pk: "a" }, ConsistentRead: true }));

    expect(Item).toEqual({ pk: "a", n: 1 });
  });

  it("keeps an item across a stop and start when backed by a dbPath", { timeout: 90_000 }, async () => {
    const dbPath = join(scratch, "db");
    const table = uniqueName("persisted");

    const first = await startDynamoDBLocal({ dbPath });
    try {
      const clients = localClients({ dynamoEndpoint: first.endpoint, sqsEndpoint: "http://127.0.0.1:9" });
      await createTable(clients.dynamo, table);
      await clients.doc.send(new PutCommand({ TableName: table, Item: { pk: "kept", value: "yes" } }));
      clients.dynamo.destroy();
    } finally {
      await first.stop();
    }

    const second = await startDynamoDBLocal({ dbPath });
    try {
      const clients = localClients({ dynamoEndpoint: second.endpoint, sqsEndpoint: "http://127.0.0.1:9" });
      const { Item } = await clients.doc.send(
        new GetCommand({ TableName: table, Key: { pk: "kept" }, ConsistentRead: true }),
      );
      clients.dynamo.destroy();
      expect(Item).toEqual({ pk: "kept", value: "yes" });
    } finally {
      await second.stop();
    }
  });
});

describe("ensureDynamoDBLocal", () => {
  it("returns the same folder at once on a second call, without downloading again", async () => {
    const first = await ensureDynamoDBLocal();
    const startedAtMs = performance.now();
    const second = await ensureDynamoDBLocal();
    const elapsedMs = performance.now() - startedAtMs;

    expect(second).toBe(first);
    expect((await stat(join(second, "DynamoDBLocal.jar"))).isFile()).toBe(true);
    expect((await stat(join(second, "DynamoDBLocal_lib"))).isDirectory()).toBe(true);
    expect(elapsedMs).toBeLessThan(250);
  });
});

describe("startDynamoDBLocal without a working Java", () => {
  it("rejects with JavaNotFoundError when java is not on PATH", async () => {
    const emptyDir = await mkdtemp(join(scratch, "empty-path-"));
    const savedPath = process.env.PATH;
    const savedJava = process.env.DURABLE_JAVA;
    process.env.PATH = emptyDir;
    delete process.env.DURABLE_JAVA;
    try {
      const error = await startDynamoDBLocal().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JavaNotFoundError);
      expect(error).toMatchObject({ code: "JAVA_NOT_FOUND", name: "JavaNotFoundError" });
      expect((error as Error).message).toBe(
        "DynamoDB Local needs Java 17+ on PATH: install a JDK (e.g. apt-get install openjdk-17-jre-headless) and retry.",
      );
    } finally {
      process.env.PATH = savedPath;
      if (savedJava !== undefined) process.env.DURABLE_JAVA = savedJava;
    }
  });

  it("rejects with JavaNotFoundError when DURABLE_JAVA names a missing binary", async () => {
    const savedJava = process.env.DURABLE_JAVA;
    process.env.DURABLE_JAVA = join(scratch, "no-such-java");
    try {
      await expect(startDynamoDBLocal()).rejects.toMatchObject({ code: "JAVA_NOT_FOUND" });
    } finally {
      if (savedJava === undefined) delete process.env.DURABLE_JAVA;
      else process.env.DURABLE_JAVA = savedJava;
    }
  });

  it("rejects with JavaVersionError when java is older than 17", async () => {
    const oldJava = join(scratch, "java11");
    await writeFile(oldJava, `#!/bin/sh\necho 'openjdk version "11.0.22" 2024-01-16' >&2\n`);
    await chmod(oldJava, 0o755);

    const error = await startDynamoDBLocal({ java: oldJava }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(JavaVersionError);
    expect(error).toMatchObject({ code: "JAVA_TOO_OLD", foundVersion: "11.0.22" });
  });

  it("rejects with the JVM's own error when DynamoDB Local exits before answering", async () => {
    const failingJava = join(scratch, "java-that-fails");
    await writeFile(
      failingJava,
      [
        "#!/bin/sh",
        `if [ "$1" = "-version" ]; then echo 'openjdk version "17.0.15" 2025-04-15' >&2; exit 0; fi`,
        "echo 'Error: Could not create the Java Virtual Machine.' >&2",
        "exit 1",
        "",
      ].join("\n"),
    );
    await chmod(failingJava, 0o755);

    const error = await startDynamoDBLocal({ java: failingJava }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DynamoDBLocalStartError);
    expect((error as Error).message).toContain("Could not create the Java Virtual Machine");
  });
});

describe("SQS emulator", () => {
  it("holds back a message sent with DelaySeconds until the delay has passed", async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("delayed") }));
    const sentAtMs = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "later", DelaySeconds: 1 }));

    const early = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
    expect(early.Messages ?? []).toHaveLength(0);

    const late = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 3 }));
    const receivedAtMs = Date.now();
    expect(late.Messages?.map((m) => m.Body)).toEqual(["later"]);
    expect(receivedAtMs - sentAtMs).toBeGreaterThanOrEqual(900);
  });
});
