/** The workflows this app deploys (the CDK stack and the local stack both load this list). */
import type { AnyWorkflow } from "../lambdas/core";
import { approval } from "./approval";
import { greet } from "./demo";
import { longJob } from "./long-job";
import { orderSaga } from "./order-saga";

export { approval, greet, longJob, orderSaga };

export const workflows: readonly AnyWorkflow[] = [greet, approval, orderSaga, longJob];
