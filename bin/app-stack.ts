import { fileURLToPath } from "node:url";
import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { DurableWorkflows } from "../lib/durable-workflows.js";

/** The example workflows deployed by `cdk deploy`. */
const EXAMPLE_WORKFLOWS = fileURLToPath(new URL("../examples/index.ts", import.meta.url));
/** This repository's own handler factories (its source), where an app would use "durable-aws/lambda". */
export const REPO_HANDLERS_MODULE = fileURLToPath(new URL("../lambdas/lambda.ts", import.meta.url));

/** The deployable app: the engine serving the workflows in `examples/`. */
export class DurableWorkflowsStack extends Stack {
  readonly workflows: DurableWorkflows;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.workflows = new DurableWorkflows(this, "Workflows", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE });
  }
}
