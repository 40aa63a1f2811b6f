import { App } from "aws-cdk-lib";
import { DurableWorkflowsStack } from "../lib/app-stack";

const app = new App();
// Environment-agnostic on purpose: synth needs no AWS credentials or lookups.
new DurableWorkflowsStack(app, "DurableWorkflows", {});
