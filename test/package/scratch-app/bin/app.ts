import { fileURLToPath } from "node:url";
import { App, CfnOutput, Stack } from "aws-cdk-lib";
import { DurableWorkflows } from "durable-aws/cdk";
import { schedules } from "../src/workflows.js";

const app = new App({ outdir: process.env.CDK_OUTDIR ?? "cdk.out" });
const stack = new Stack(app, "ScratchOrders");
const orders = new DurableWorkflows(stack, "Orders", {
  workflowsEntry: fileURLToPath(new URL("../src/workflows.ts", import.meta.url)),
  schedules,
});
new CfnOutput(stack, "OrdersApiUrl", { value: orders.apiUrl });
app.synth();
