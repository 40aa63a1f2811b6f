/**
 * `durable-aws/testing/dynamodb-local`: the test kit on DynamoDB Local (Java 17+) and the SQS
 * emulator, for tests that should also check what DynamoDB does. The in-memory kit,
 * `durable-aws/testing`, needs neither and runs the same tests.
 *
 * Environments share one DynamoDB Local and one emulator: list `globalSetup` in vitest's config
 * to start them once per test run, or let the first environment of each process start them.
 *
 * @example
 * import { createDynamoDBTestEnvironment } from "durable-aws/testing/dynamodb-local";
 *
 * const env = await createDynamoDBTestEnvironment({ workflows: [approval] });
 * const id = await env.start(approval, { request: "laptop" });
 * await env.advanceTime("3 days");
 * await env.signal(id, "decision", { approved: true });
 * expect(await env.result(id)).toEqual({ status: "approved" });
 * await env.close();
 */
export { createDynamoDBTestEnvironment, DynamoDBTestEnvironment, type DynamoDBTestEnvironmentOptions } from "./testing/dynamodb-environment.js";
export { globalSetup } from "./testing/global-setup.js";
export {
  DYNAMODB_ENDPOINT_VARIABLE,
  SQS_ENDPOINT_VARIABLE,
  startTestServices,
  stopTestServices,
  TestServicesConfigError,
  type TestServiceEndpoints,
} from "./testing/services.js";
