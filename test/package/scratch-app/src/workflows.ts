import { defineWorkflow, type ScheduleDefinition } from "durable-aws";

export const shipOrder = defineWorkflow("ship-order", async (ctx, input: { sku: string; quantity: number }) => {
  const reservation = await ctx.step("reserve", () => ({ reservationId: `res-${input.sku}`, quantity: input.quantity }));
  await ctx.sleep("cool-off", "1 second");
  const decision = await ctx.waitForSignal<{ approved: boolean }>("approve", { timeout: "1 day" });
  if (!decision?.approved) return { status: "held" as const, reservationId: reservation.reservationId };
  const label = await ctx.step("label", () => `LABEL-${input.sku}-${input.quantity}`);
  return { status: "shipped" as const, reservationId: reservation.reservationId, label };
});

export const workflows = [shipOrder];

/** Deployed by the construct's `schedules` prop, fired locally by `durable dev` and by the test kit. */
export const schedules: ScheduleDefinition[] = [{ name: "nightly-restock", workflow: "ship-order", cron: "0 2 * * ? *", timezone: "Europe/Berlin", input: { sku: "restock", quantity: 10 } }];
