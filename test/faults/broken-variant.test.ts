/**
 * The fault suite must not be blind: with the store deliberately broken (commits skip the lease
 * condition, `unsafeSkipLeaseCheck`), zombie workers (stalled past their lease while another took
 * over) overwrite the execution item, and the same checks must report violations. The same
 * scenario with the real store is the control: no violations.
 */
import { describe, expect, it } from "vitest";
import type { FaultProfile } from "../support/faults";
import { runScenario, type ScenarioOptions } from "./scenario";

const seed = Number(process.env.FAULT_SEED ?? 20_260_611);

// Zombies are what a missing lease check lets through: here a turn's closing write (which adds no
// history item, so only the lease fences it) often stalls past the lease while another worker
// takes over. Duplicated sends make many such turns.
const zombies: FaultProfile = { stallUpdateOnly: 0.5, stall: 0.02, ddbThrottle: 0.01, crashAfterWrite: 0.01, duplicateSend: 1 };

const scenario = (name: string, unsafeSkipLeaseCheck: boolean): ScenarioOptions => ({
  name,
  seed,
  flows: 60,
  doomed: 0,
  unregistered: 0,
  storm: { senders: 2, perSender: 10 },
  stallMs: 7_000,
  deadlineMs: 45_000,
  profile: zombies,
  unsafeSkipLeaseCheck,
});

describe("the fault suite against a deliberately broken store", () => {
  it("reports violations when commits skip the lease condition, and none with the real store", async () => {
    const [broken, control] = await Promise.all([runScenario(scenario("broken", true)), runScenario(scenario("control", false))]);
    console.log(`${broken.summary}\n  first violations:\n  ${broken.violations.slice(0, 8).join("\n  ")}`);
    console.log(control.summary);
    expect(control.violations, `control run, seed ${seed}:\n${control.violations.slice(0, 20).join("\n")}`).toEqual([]);
    expect(broken.violations.length, `the broken store went unnoticed (seed ${seed})`).toBeGreaterThan(0);
  }, 170_000);
});
