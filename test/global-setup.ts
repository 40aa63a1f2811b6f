/**
 * Starts DynamoDB Local (in memory) and the SQS emulator once per test run,
 * on free ports, and hands their endpoints to test files through
 * `inject("dynamoEndpoint")` / `inject("sqsEndpoint")`.
 */
import type { TestProject } from "vitest/node";
import { startDynamoDBLocal } from "../local/dynamodb-local.js";
import { startSqsEmulator } from "../local/sqs-emulator.js";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    sqsEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Same opt-out as vitest.config.ts `env`, for the clients made in this process.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

  const [dynamo, sqs] = await Promise.allSettled([startDynamoDBLocal(), startSqsEmulator()]);
  if (dynamo.status === "rejected" || sqs.status === "rejected") {
    await Promise.allSettled([
      dynamo.status === "fulfilled" ? dynamo.value.stop() : undefined,
      sqs.status === "fulfilled" ? sqs.value.stop() : undefined,
    ]);
    throw dynamo.status === "rejected" ? dynamo.reason : (sqs as PromiseRejectedResult).reason;
  }

  project.provide("dynamoEndpoint", dynamo.value.endpoint);
  project.provide("sqsEndpoint", sqs.value.endpoint);

  return async () => {
    await Promise.allSettled([dynamo.value.stop(), sqs.value.stop()]);
  };
}
