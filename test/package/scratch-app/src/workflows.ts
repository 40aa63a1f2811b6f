import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { defineWorkflow, type ScheduleDefinition } from "durable-aws";
import { parseRows } from "./parse.js";

export const shipOrder = defineWorkflow("ship-order", async (ctx, input: { sku: string; quantity: number }) => {
  const reservation = await ctx.step("reserve", () => ({ reservationId: `res-${input.sku}`, quantity: input.quantity }));
  await ctx.sleep("cool-off", "1 second");
  const decision = await ctx.waitForSignal<{ approved: boolean }>("approve", { timeout: "1 day" });
  if (!decision?.approved) return { status: "held" as const, reservationId: reservation.reservationId };
  const label = await ctx.step("label", () => `LABEL-${input.sku}-${input.quantity}`);
  return { status: "shipped" as const, reservationId: reservation.reservationId, label };
});

/** Fetches (a side effect the test counts: it must run once), then parses, which fails until fixed. */
export const importFile = defineWorkflow("import-file", async (ctx, input: { rows: number }) => {
  const fetched = await ctx.step("fetch", () => {
    appendFileSync(join(process.cwd(), ".durable", "fetch-runs"), "x");
    return input.rows;
  });
  return ctx.step("parse", () => parseRows(fetched), { retry: { maxAttempts: 1 } });
});

export const workflows = [shipOrder, importFile];

/** Deployed by the construct's `schedules` prop, fired locally by `durable dev` and by the test kit. */
export const schedules: ScheduleDefinition[] = [{ name: "nightly-restock", workflow: "ship-order", cron: "0 2 * * ? *", timezone: "Europe/Berlin", input: { sku: "restock", quantity: 10 } }];
