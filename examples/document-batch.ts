import { defineWorkflow } from "../lambdas/index.js";

/** Where a document goes to be read. Replace `submit` with a call to your OCR service. */
export const ocrService = {
  /**
   * Hands the service a document and the token to answer with. The service calls
   * `POST /callbacks/{token}` with `{ "text": "..." }` when done (or `/fail`), and
   * `POST /callbacks/{token}/heartbeat` at least every 15 minutes while it works.
   */
  submit: async (document: string, token: string): Promise<void> => {
    console.log(`ocr: ${document} → answer with POST /callbacks/${token} {"text": "..."}`);
  },
};

/**
 * A batch of documents read by an external service that calls back: at most `maxConcurrency`
 * documents at the service at once (default 5), each given a day and a 15-minute heartbeat; up
 * to 10 % of them may fail without failing the batch.
 */
export const documentBatch = defineWorkflow("document-batch", async (ctx, input: { documents: string[]; maxConcurrency?: number }) => {
  const read = await ctx.map(
    "read",
    input.documents,
    (ctx, document) =>
      ctx.waitForCallback<{ text: string }>("ocr", (token) => ocrService.submit(document, token), { timeout: "1 day", heartbeatTimeout: "15 minutes" }),
    { maxConcurrency: input.maxConcurrency ?? 5, completion: { toleratedFailurePercentage: 10 } },
  );
  return {
    read: read.items.flatMap((item) => (item.status === "succeeded" ? [{ document: input.documents[item.index] as string, characters: item.value.text.length }] : [])),
    failed: read.errors.map((e) => ({ document: input.documents[e.index] as string, reason: e.error.message })),
  };
});
