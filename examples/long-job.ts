import { defineWorkflow } from "../lambdas/index.js";

/**
 * A long-running job: generate, then wait days for a review window, then publish. Sleeping costs
 * nothing: no Lambda runs while the timer is pending (timers over 15 minutes chain SQS delays).
 */
export const longJob = defineWorkflow("long-job", async (ctx, input: { topic: string; waitDays?: number }) => {
  const draft = await ctx.step("generate", () => ({ title: `On ${input.topic}`, words: 1200 }));
  await ctx.sleep("review-window", `${input.waitDays ?? 3} days`);
  const published = await ctx.step("publish", () => ({ url: `https://example.com/${encodeURIComponent(draft.title)}` }));
  return { draft, published };
});
