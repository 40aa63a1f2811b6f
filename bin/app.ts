import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { DurableWorkflowsStack } from "./app-stack.js";

const app = new App();
// Environment-agnostic on purpose: synth needs no AWS credentials or lookups.
new DurableWorkflowsStack(app, "DurableWorkflows", {});
// `cdk synth` and `cdk deploy` stop on any unacknowledged AwsSolutions
// finding, as test/infra does.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
