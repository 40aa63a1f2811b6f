/**
 * The fault-injection suite: hundreds of executions through two workers and two sweepers on one
 * table and queue, with DynamoDB throttling and transaction conflicts, SQS send failures,
 * duplicated sends, crashes before and after commits, after sends, inside step bodies and while
 * holding a lease, stalls past the lease (zombies), and a signal storm; and executions whose step
 * results go to S3 (offloaded), with throttled object writes and crashes between an object's write
 * and the commit that refers to it. Every guarantee is checked afterwards (scenario.ts). The seed
 * is printed; rerun one with FAULT_SEED=<seed>.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "./scenario.js";

const seed = Number(process.env.FAULT_SEED ?? 20_260_611);

describe("the engine under faults", () => {
  it("ends every execution correctly, records each step once and consumes each signal once, in order", async () => {
    const report = await runScenario({
      name: "faults",
      seed,
      flows: 200,
      doomed: 5,
      unregistered: 3,
      storm: { senders: 3, perSender: 20 },
      stallMs: 7_000,
      deadlineMs: 100_000,
      // Rates high enough that every kind is injected several times whatever the interleaving of
      // the workers (the rolls are seeded, but which call gets which roll depends on timing).
      profile: {
        ddbThrottle: 0.015,
        txConflict: 0.02,
        crashBeforeWrite: 0.008,
        crashAfterWrite: 0.008,
        stall: 0.006,
        stallUpdateOnly: 0.05,
        crashHoldingLease: 0.01,
        crashInStep: 0.025,
        sqsSendFail: 0.02,
        crashAfterSend: 0.025,
        duplicateSend: 1, // every wake-up is sent twice
        // Rolled only on the offloaded executions' S3 requests (about 150). A crash costs a
        // lease's time: at twice this rate, a first step could meet enough in a row to be taken
        // up later than the latency bound (a throttled turn is retried at once).
        s3Throttle: 0.06,
        crashAfterObjectWrite: 0.04,
      },
      paths: { bigValues: { offloaded: 8, offloadedSteps: 16 } },
    });
    console.log(report.summary);
    expect(report.violations, `seed ${seed} (rerun with FAULT_SEED=${seed}):\n${report.violations.slice(0, 40).join("\n")}`).toEqual([]);
    // The run must actually have hurt: every kind of fault happened.
    for (const [kind, count] of Object.entries(report.injected)) {
      if (kind !== "timeout") expect(count, `${kind} never injected (seed ${seed})`).toBeGreaterThan(0);
    }
  }, 170_000);
});
