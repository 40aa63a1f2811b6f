import { defineWorkflow } from "../lambdas/index.js";

/**
 * The demo `npm start` runs: three steps and a durable sleep. Each step's result is recorded; if
 * the worker dies half way, the next one replays the recorded results and carries on.
 */
export const greet = defineWorkflow("greet", async (ctx, input: { name: string }) => {
  const normalized = await ctx.step("normalize", () => input.name.trim().replace(/\s+/g, " "));
  const greeting = await ctx.step("compose", () => `Hello, ${normalized}!`);
  await ctx.sleep("pause", "1s");
  const shouted = await ctx.step("shout", () => greeting.toUpperCase());
  return { greeting, shouted, at: new Date(ctx.now()).toISOString() };
});
