import { describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { assertTransition, canTransition, EXECUTION_STATUSES, isTerminal, TERMINAL_STATUSES } from "../../lambdas/core/status.js";
import { MemoryExecution } from "../support/memory-engine.js";

describe("status state machine", () => {
  it("lets nothing leave a terminal status", () => {
    for (const from of TERMINAL_STATUSES) {
      for (const to of EXECUTION_STATUSES) {
        expect(canTransition(from, to)).toBe(false);
        expect(() => assertTransition(from, to)).toThrow(expect.objectContaining({ code: "INVALID_TRANSITION" }));
      }
    }
  });

  it("lets a live execution sleep, wake and end in any terminal status", () => {
    for (const from of ["running", "sleeping"] as const) {
      for (const to of EXECUTION_STATUSES) expect(canTransition(from, to)).toBe(true);
    }
    expect(isTerminal("completed")).toBe(true);
    expect(isTerminal("sleeping")).toBe(false);
  });

  it("refuses to drive an execution that has already ended", async () => {
    const wf = defineWorkflow("ended", async (ctx) => ctx.step("s", () => 1));
    const exec = new MemoryExecution(wf, null);
    exec.status = "completed";
    await expect(exec.turn()).rejects.toMatchObject({ code: "INVALID_TRANSITION" });
    expect(exec.commits).toHaveLength(1); // the step result (no status change) only
  });
});
