import assert from "node:assert/strict";
import { test } from "node:test";
import { createTestEnvironment } from "durable-aws/testing";
import { shipOrder, workflows } from "./workflows.js";

test("ships once approved, the day's wait skipped in memory", async () => {
  const env = await createTestEnvironment({ workflows, startTimeMs: Date.UTC(2026, 0, 1) });
  try {
    const id = await env.start(shipOrder, { sku: "mug", quantity: 2 });
    await env.advanceTime("5 seconds");
    assert.equal((await env.execution(id)).status, "sleeping");
    await env.signal(id, "approve", { approved: true });
    assert.deepEqual(await env.result(id), { status: "shipped", reservationId: "res-mug", label: "LABEL-mug-2" });
  } finally {
    await env.close();
  }
});

test("holds the order when nobody approves within a day", async () => {
  const env = await createTestEnvironment({ workflows });
  try {
    const id = await env.start(shipOrder, { sku: "mug", quantity: 1 });
    await env.advanceTime("2 days");
    assert.deepEqual(await env.result(id), { status: "held", reservationId: "res-mug" });
  } finally {
    await env.close();
  }
});
