import { fileURLToPath } from "node:url";
import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { DurableWorkflows } from "./durable-workflows";

/** The example workflows deployed by `cdk deploy`. */
const EXAMPLE_WORKFLOWS = fileURLToPath(new URL("../examples/index.ts", import.meta.url));

/** The deployable app: the engine serving the workflows in `examples/`. */
export class DurableWorkflowsStack extends Stack {
  readonly workflows: DurableWorkflows;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.workflows = new DurableWorkflows(this, "Workflows", { workflowsEntry: EXAMPLE_WORKFLOWS });
  }
}
