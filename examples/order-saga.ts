import { defineWorkflow, NonRetryableError, StepFailedError } from "../lambdas/index.js";

/**
 * An order saga: reserve stock, charge the card, ship. If a later step fails for good, the
 * earlier ones are compensated in reverse order (release the stock, refund the charge).
 */
export const orderSaga = defineWorkflow(
  "order-saga",
  async (ctx, input: { orderId: string; amount: number; failAt?: "charge" | "ship" }) => {
    const compensations: { name: string; run: () => Promise<unknown> }[] = [];
    try {
      const reservation = await ctx.step("reserve-stock", () => ({ reservationId: `r-${input.orderId}` }));
      compensations.push({ name: "release-stock", run: () => ctx.step("release-stock", () => ({ released: reservation.reservationId })) });

      const charge = await ctx.step(
        "charge-card",
        () => {
          if (input.failAt === "charge") throw new NonRetryableError("card declined", { code: "CARD_DECLINED" });
          return { chargeId: `c-${input.orderId}`, amount: input.amount };
        },
        { retry: { maxAttempts: 3, initialInterval: "1s" } },
      );
      compensations.push({ name: "refund", run: () => ctx.step("refund", () => ({ refunded: charge.chargeId })) });

      const shipment = await ctx.step(
        "ship",
        () => {
          if (input.failAt === "ship") throw new NonRetryableError("address not deliverable", { code: "UNDELIVERABLE" });
          return { trackingId: `t-${input.orderId}` };
        },
      );
      return { status: "shipped" as const, trackingId: shipment.trackingId };
    } catch (err) {
      if (!(err instanceof StepFailedError)) throw err;
      for (const compensation of compensations.reverse()) await compensation.run();
      return { status: "compensated" as const, failedStep: err.stepName, reason: err.failure.message };
    }
  },
);
