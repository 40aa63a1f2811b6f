import assert from "node:assert/strict";
import { after, test } from "node:test";
import { createDynamoDBTestEnvironment, stopTestServices } from "durable-aws/testing/dynamodb-local";
import { shipOrder, workflows } from "./workflows.js";

after(() => stopTestServices());

test("ships once approved, on DynamoDB Local and the SQS emulator", async () => {
  const env = await createDynamoDBTestEnvironment({ workflows });
  try {
    const id = await env.start(shipOrder, { sku: "desk", quantity: 1 });
    await env.advanceTime("5 seconds");
    await env.signal(id, "approve", { approved: true });
    assert.deepEqual(await env.result(id), { status: "shipped", reservationId: "res-desk", label: "LABEL-desk-1" });
  } finally {
    await env.close();
  }
});
