import { readFileSync } from "node:fs";
import { App, type CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { DurableWorkflowsStack } from "../../lib/app-stack";

/** The app stack as `cdk synth` builds it, ready for assertions. */
export interface SynthesizedStack {
  readonly app: App;
  readonly stack: DurableWorkflowsStack;
  readonly template: Template;
  /** The logical id CloudFormation knows a construct's resource by. */
  logicalId(construct: IConstruct): string;
}

/** Synthesizing bundles both functions with esbuild; give hooks this long. */
export const SYNTH_TIMEOUT_MS = 120_000;

/**
 * Synthesizes `DurableWorkflowsStack` with the feature flags of `cdk.json`,
 * so tests see the template `cdk synth` produces. `beforeSynth` runs first,
 * for callers that must add aspects (cdk-nag) before synthesis.
 */
export function synthesizeAppStack(beforeSynth?: (app: App, stack: DurableWorkflowsStack) => void): SynthesizedStack {
  const app = new App({ context: cdkJsonContext() });
  const stack = new DurableWorkflowsStack(app, "DurableWorkflows", {});
  beforeSynth?.(app, stack);
  const template = Template.fromStack(stack);
  return {
    app,
    stack,
    template,
    logicalId: (construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement),
  };
}

function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}
