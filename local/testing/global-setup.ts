/**
 * A vitest global setup that starts DynamoDB Local and the SQS emulator once for the whole test
 * run, before any worker starts: the workers inherit DURABLE_TEST_DYNAMODB_ENDPOINT and
 * DURABLE_TEST_SQS_ENDPOINT, and every DynamoDB test environment in every test file uses those
 * services (each with its own table and queue) instead of starting a JVM per file.
 *
 * It needs nothing of vitest at run time (vitest calls the default export and calls what it
 * returns as the teardown), so the same function also works as a Jest `globalSetup` body.
 *
 * @example
 * // test/durable-services.ts
 * export { globalSetup as default } from "durable-aws/testing/dynamodb-local";
 *
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ["test/durable-services.ts"] } });
 */
import { startTestServices, stopTestServices } from "./services.js";

export async function globalSetup(): Promise<() => Promise<void>> {
  await startTestServices();
  return stopTestServices;
}

export default globalSetup;
