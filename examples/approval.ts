import { defineWorkflow } from "../lambdas/index.js";

/**
 * An approval flow: wait up to `timeout` for a person to send the `decision` signal
 * (`POST /executions/{id}/signals/decision` with body `{ "approved": true }`).
 */
export const approval = defineWorkflow(
  "approval",
  async (ctx, input: { request: string; timeout?: string }) => {
    await ctx.step("notify-approver", ({ idempotencyKey }) => ({ notified: true, idempotencyKey }));
    const decision = await ctx.waitForSignal<{ approved: boolean; by?: string }>("decision", { timeout: input.timeout ?? "7 days" });
    if (decision === undefined) return { request: input.request, status: "expired" as const };
    if (!decision.approved) return { request: input.request, status: "rejected" as const, by: decision.by };
    await ctx.step("apply", () => ({ applied: input.request }));
    return { request: input.request, status: "approved" as const, by: decision.by };
  },
);
