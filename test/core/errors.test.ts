/**
 * The error root: every public error is a DurableError with a stable code, `instanceof` holds for
 * errors made by another copy of the package (a second install, a bundle), and what an error
 * records is bounded.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, DurableError, ERROR_LIMITS, NonRetryableError, StepFailedError, toErrorInfo } from "../../lambdas/core/errors.js";
import { ChildFailedError } from "../../lambdas/core/run.js";
import * as root from "../../lambdas/index.js";

describe("errors", () => {
  it("tell their classes apart across two copies of the package", async () => {
    // The same module loaded a second time is another copy of every class in it.
    const second: string = "../../lambdas/core/errors.js?second-copy";
    const copy = (await import(second)) as typeof import("../../lambdas/core/errors.js");
    expect(copy.StepFailedError).not.toBe(StepFailedError);
    const failed = new copy.StepFailedError("charge", 3, { name: "Error", message: "declined" });
    expect(failed).toBeInstanceOf(StepFailedError);
    expect(failed).toBeInstanceOf(DurableError);
    expect(failed).toBeInstanceOf(Error);
    expect(failed).not.toBeInstanceOf(CancelledError);
    expect(new copy.NonRetryableError("no")).toBeInstanceOf(NonRetryableError);
    expect(new NonRetryableError("no")).toBeInstanceOf(copy.DurableError);
    expect(new Error("plain")).not.toBeInstanceOf(DurableError);
    expect({ code: "STEP_FAILED" }).not.toBeInstanceOf(StepFailedError);
  });

  it("all the public ones are DurableErrors with a code", () => {
    const made: DurableError[] = [
      new StepFailedError("s", 1, { name: "Error", message: "m" }),
      new CancelledError("why"),
      new NonRetryableError("m", { code: "MINE" }),
      new ChildFailedError("kid", "failed", { name: "Error", message: "m" }),
      new root.NonDeterminismError(3, 'step "a"', 'step "b"'),
      new root.WorkflowNotFoundError("w"),
      new root.StepTimeoutError("s", 10),
      new root.StepInterruptedError("s", 10),
      new root.WorkflowBlockedError(),
      new root.InvalidNameError("step", ""),
      new root.BatchFailedError("b", { items: [], values: [], errors: [], succeeded: 0, failed: 0, completionReason: "failure-tolerance-exceeded" }),
      new root.InvalidBatchOptionsError("b", "bad"),
    ];
    for (const err of made) {
      expect(err).toBeInstanceOf(DurableError);
      expect(err.code).toMatch(/^[A-Z_]+$/);
      expect(err.name).toBe(err.constructor.name);
    }
  });

  it("record at most a bounded message, stack and details", () => {
    const err = new NonRetryableError("x".repeat(200_000), { details: { blob: "y".repeat(100_000) } });
    const info = toErrorInfo(err);
    expect(info.message.length).toBeLessThan(ERROR_LIMITS.messageChars + 100);
    expect(info.message).toContain("characters cut");
    expect(info.details).toEqual({ truncated: true, bytes: expect.any(Number) });
    expect((info.stack ?? "").split("\n").length).toBeLessThanOrEqual(ERROR_LIMITS.stackLines);
  });
});
