/** The sweeper Lambda, run on a schedule (EventBridge). */
import middy from "@middy/core";
import { WorkflowRegistry } from "../core/workflow.js";
import { type SweepDeps, sweepDue, type SweepOptions } from "../engine/sweeper.js";
import { createEngineDeps } from "./deps.js";
import { withPowertools } from "./observability.js";

export function createSweeperHandler(deps: SweepDeps, options: SweepOptions = {}) {
  return middy(async () => sweepDue(deps, options));
}

/** The deployed entry: `export const handler = sweeperHandlerFromEnv()`. */
export function sweeperHandlerFromEnv() {
  return withPowertools(createSweeperHandler(createEngineDeps(new WorkflowRegistry([]))));
}
