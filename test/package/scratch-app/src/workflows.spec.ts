import assert from "node:assert/strict";
import { test } from "node:test";
import { createTestEnvironment } from "durable-aws/testing";
import { schedules, shipOrder, workflows } from "./workflows.js";

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

test("the nightly schedule starts a restock at 02:00 Berlin time, skipping a night while the last one still waits", async () => {
  const env = await createTestEnvironment({ workflows, schedules, startTimeMs: Date.UTC(2026, 0, 1, 12) });
  try {
    await env.advanceTime("3 days");
    // The first restock waits a day for its approval, past the second night's fire: overlap "skip".
    assert.deepEqual(
      env.scheduleFires.map((f) => [f.executionId, f.outcome]),
      [
        ["nightly-restock-20260102T010000Z", "started"],
        ["nightly-restock-20260103T010000Z", "skipped"],
        ["nightly-restock-20260104T010000Z", "started"],
      ],
    );
    assert.equal((await env.execution("nightly-restock-20260102T010000Z")).tags?.schedule, "nightly-restock");
  } finally {
    await env.close();
  }
});
