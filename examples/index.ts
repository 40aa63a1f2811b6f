/** The workflows this app deploys (the CDK stack and the local stack both load this list). */
import type { AnyWorkflow } from "../lambdas/index.js";
import { approval } from "./approval.js";
import { greet } from "./demo.js";
import { documentBatch } from "./document-batch.js";
import { longJob } from "./long-job.js";
import { orderSaga } from "./order-saga.js";

export { approval, documentBatch, greet, longJob, orderSaga };

export const workflows: readonly AnyWorkflow[] = [greet, approval, orderSaga, longJob, documentBatch];
