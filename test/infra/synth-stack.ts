import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { App, type CfnElement, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { DurableWorkflowsStack, REPO_HANDLERS_MODULE } from "../../bin/app-stack.js";
import { DurableWorkflows, type DurableWorkflowsProps } from "../../lib/durable-workflows.js";

/** The app stack as `cdk synth` builds it, ready for assertions. */
export interface SynthesizedStack {
  readonly app: App;
  readonly stack: DurableWorkflowsStack;
  readonly template: Template;
  /** The logical id CloudFormation knows a construct's resource by. */
  logicalId(construct: IConstruct): string;
}

/** Synthesizing bundles the functions with esbuild; give hooks this long. */
export const SYNTH_TIMEOUT_MS = 120_000;

export const EXAMPLE_WORKFLOWS = fileURLToPath(new URL("../../examples/index.ts", import.meta.url));

/**
 * Synthesizes `DurableWorkflowsStack` with the feature flags of `cdk.json`,
 * so tests see the template `cdk synth` produces, bundles included.
 */
export function synthesizeAppStack(): SynthesizedStack {
  const app = new App({ context: cdkJsonContext() });
  const stack = new DurableWorkflowsStack(app, "DurableWorkflows", {});
  const template = Template.fromStack(stack);
  return { app, stack, template, logicalId: (construct) => logicalIdIn(stack, construct) };
}

/** A stack holding one `DurableWorkflows` (and whatever `extras` adds), synthesized. */
export interface SynthesizedConstruct {
  readonly stack: Stack;
  readonly workflows: DurableWorkflows;
  readonly template: Template;
  logicalId(construct: IConstruct): string;
}

/**
 * Synthesizes `DurableWorkflows` with `props`, skipping esbuild: tests of
 * configuration need the template, not the bundles, and this keeps each
 * synth well under a second. `extras` creates what the props refer to
 * (an SNS topic, say) in the same stack.
 */
export function synthesizeConstruct<T extends object>(
  props: (stack: Stack) => Omit<DurableWorkflowsProps, "workflowsEntry"> & { extras?: T },
): SynthesizedConstruct & { extras: T | undefined } {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Configured");
  const { extras, ...rest } = props(stack);
  const workflows = new DurableWorkflows(stack, "Workflows", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, ...rest });
  const template = Template.fromStack(stack);
  return { stack, workflows, template, extras, logicalId: (construct) => logicalIdIn(stack, construct) };
}

function logicalIdIn(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };

/** Every statement of every identity policy in the template (attached policies and role inline policies). */
export function allPolicyStatements(template: Template): Statement[] {
  const fromPolicies = Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
    (p) => p.Properties.PolicyDocument.Statement as Statement[],
  );
  const fromRoles = Object.values(template.findResources("AWS::IAM::Role")).flatMap((r) =>
    ((r.Properties.Policies ?? []) as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap(
      (p) => p.PolicyDocument.Statement,
    ),
  );
  return [...fromPolicies, ...fromRoles];
}

/** One permission a role has: an IAM action on a resource, named as `grantsOf` names it. */
export interface Grant {
  readonly action: string;
  readonly resource: string;
}

/**
 * What a function's role may do, as sorted `"<action> on <resource>"` lines;
 * resources are named through `names` (logical id -> name), an index ARN as
 * `<table name>/index/<index>`. Throws on a resource it cannot name, so a
 * grant on something unexpected fails the test instead of hiding.
 */
export function grantsOf(template: Template, functionLogicalId: string, names: Record<string, string>): string[] {
  const lines = grantedTo(template, functionLogicalId, names).map((g) => `${g.action} on ${g.resource}`);
  return [...new Set(lines)].sort();
}

/** The same grants as `grantsOf`, one `{ action, resource }` per pair, for matching against calls. */
export function grantedTo(template: Template, functionLogicalId: string, names: Record<string, string>): Grant[] {
  const fn = template.toJSON().Resources[functionLogicalId] as { Properties: { Role: { "Fn::GetAtt": [string, string] } } };
  const roleId = fn.Properties.Role["Fn::GetAtt"][0];
  const policies = template.findResources("AWS::IAM::Policy", {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as Statement[]).flatMap((s) => {
      if (s.Effect !== "Allow") throw new Error(`unexpected ${s.Effect} statement`);
      const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
      const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      return actions.flatMap((action) => resources.map((resource) => ({ action, resource: nameOf(resource, names) })));
    }),
  );
}

/**
 * Whether `grants` allow `action` on `resource`, as IAM matches them: `*` and `?` wildcards in
 * either, actions case-insensitive, resources case-sensitive. So a grant widened to
 * `dynamodb:*` or `table/index/*` still counts as allowing what it covers.
 */
export function isAllowed(grants: readonly Grant[], request: Grant): boolean {
  return grants.some((g) => wildcard(g.action, "i").test(request.action) && wildcard(g.resource, "").test(request.resource));
}

function wildcard(pattern: string, flags: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${source}$`, flags);
}

/**
 * Logical id -> the name `grantsOf` gives it, for the app stack: `table`, `queue`, `dlq`,
 * `payload bucket` (its objects as `payload bucket/executions/*`), and each function's log group
 * as `worker logs`, `api logs`, `sweeper logs`.
 */
export function grantResourceNames(synth: SynthesizedStack): Record<string, string> {
  const w = synth.stack.workflows;
  const resources = synth.template.toJSON().Resources as Record<string, { Properties: { LoggingConfig?: { LogGroup?: { Ref?: string } } } }>;
  const logGroupOf = (fn: IConstruct): string => {
    const ref = resources[synth.logicalId(fn)]?.Properties.LoggingConfig?.LogGroup?.Ref;
    if (ref === undefined) throw new Error(`${fn.node.path} logs to no log group of its own`);
    return ref;
  };
  return {
    [synth.logicalId(w.table)]: "table",
    [synth.logicalId(w.queue)]: "queue",
    [synth.logicalId(w.deadLetterQueue)]: "dlq",
    [logGroupOf(w.workerFunction)]: "worker logs",
    [logGroupOf(w.apiFunction)]: "api logs",
    [logGroupOf(w.sweeperFunction)]: "sweeper logs",
    [synth.logicalId(w.cursorSecret)]: "cursor secret",
    [synth.logicalId(w.payloadBucket)]: "payload bucket",
  };
}

function nameOf(resource: unknown, names: Record<string, string>): string {
  const getAtt = (r: unknown): string | undefined => {
    const ref = (r as { "Fn::GetAtt"?: [string, string] })["Fn::GetAtt"];
    return ref && ref[1] === "Arn" ? names[ref[0]] : undefined;
  };
  const direct = getAtt(resource);
  if (direct) return direct;
  // A secret's ARN is its Ref.
  const ref = (resource as { Ref?: string }).Ref;
  if (ref !== undefined && names[ref]) return names[ref];
  const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (join && join[0] === "" && join[1].length === 2 && typeof join[1][1] === "string") {
    const base = getAtt(join[1][0]);
    if (base) return `${base}${join[1][1]}`;
  }
  throw new Error(`a grant on a resource the test cannot name: ${JSON.stringify(resource)}`);
}

function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}
