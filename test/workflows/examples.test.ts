/** The workflows in examples/ do what their comments say, through the real worker. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { approval, documentBatch, greet, longJob, orderSaga, workflows } from "../../examples/index.js";
import { ocrService } from "../../examples/document-batch.js";
import { createDynamoDBTestEnvironment, type DynamoDBTestEnvironment } from "../../local/testing.js";

let env: DynamoDBTestEnvironment;

beforeAll(async () => {
  env = await createDynamoDBTestEnvironment({
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    workflows,
  });
});

afterAll(async () => {
  await env?.close();
});

describe("examples", () => {
  it("greet: three steps around a durable sleep", async () => {
    const id = await env.start(greet, { name: " Grace  Hopper " });
    await env.advanceTime("1s");
    expect(await env.result(id)).toMatchObject({ greeting: "Hello, Grace Hopper!", shouted: "HELLO, GRACE HOPPER!" });
  });

  it("approval: approved, rejected, and expired after its timeout", async () => {
    const yes = await env.start(approval, { request: "a" });
    const no = await env.start(approval, { request: "b" });
    const silent = await env.start(approval, { request: "c", timeout: "2 days" });
    await env.signal(yes, "decision", { approved: true, by: "ana" });
    await env.signal(no, "decision", { approved: false, by: "bo" });
    await env.advanceTime("2 days");
    expect(await env.result(yes)).toEqual({ request: "a", status: "approved", by: "ana" });
    expect(await env.result(no)).toEqual({ request: "b", status: "rejected", by: "bo" });
    expect(await env.result(silent)).toEqual({ request: "c", status: "expired" });
  });

  it("order saga: ships, or compensates in reverse order when a step fails for good", async () => {
    const shipped = await env.start(orderSaga, { orderId: "o1", amount: 10 });
    expect(await env.result(shipped)).toEqual({ status: "shipped", trackingId: "t-o1" });

    const failed = await env.start(orderSaga, { orderId: "o2", amount: 10, failAt: "ship" });
    expect(await env.result(failed)).toEqual({ status: "compensated", failedStep: "ship", reason: "address not deliverable" });
    const steps = (await env.history(failed)).filter((e) => e.type === "StepCompleted").map((e) => (e as { name: string }).name);
    expect(steps).toEqual(["reserve-stock", "charge-card", "refund", "release-stock"]);
  });

  it("long job: sleeps three days between generating and publishing", async () => {
    const id = await env.start(longJob, { topic: "replay" });
    expect((await env.execution(id)).status).toBe("sleeping");
    await env.advanceTime("2 days");
    expect((await env.execution(id)).status).toBe("sleeping");
    await env.advanceTime("1 day");
    expect(await env.result(id)).toMatchObject({ published: { url: expect.stringContaining("example.com") } });
  });

  it("document batch: at most 2 documents at the OCR service at once, answered by callback, one failure tolerated", async () => {
    const atService = new Map<string, string>();
    let most = 0;
    const submit = ocrService.submit;
    ocrService.submit = async (document, token) => {
      atService.set(document, token);
      most = Math.max(most, atService.size);
    };
    try {
      const documents = Array.from({ length: 10 }, (_, i) => `doc-${i}.pdf`);
      const id = await env.start(documentBatch, { documents, maxConcurrency: 2 });
      for (let answered = 0; answered < documents.length; answered += 1) {
        const [document, token] = [...atService.entries()][0] as [string, string];
        atService.delete(document);
        await env.advanceTime("5 minutes");
        if (document === "doc-3.pdf") await env.failCallback(token, { message: "unreadable scan" });
        else await env.completeCallback(token, { text: `text of ${document}` });
      }
      const out = await env.result<{ read: { document: string }[]; failed: { document: string; reason: string }[] }>(id);
      expect(out.read.map((r) => r.document)).toEqual(documents.filter((d) => d !== "doc-3.pdf"));
      expect(out.failed).toEqual([{ document: "doc-3.pdf", reason: 'callback "ocr" failed: unreadable scan' }]);
      expect(most).toBe(2);
    } finally {
      ocrService.submit = submit;
    }
  });
});
