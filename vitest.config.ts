import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    // Starts DynamoDB Local and the SQS emulator once per run.
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most files wait on real services and real time (DynamoDB Local, the SQS emulator, sleeps
    // standing in for Lambda timeouts) rather than on the CPU: three at once on two cores keeps
    // the run well under ten minutes, where one per core left them mostly waiting.
    maxWorkers: 3,
    env: {
      // The SDK warns once per process that releases after January 2027
      // need Node 22; documented opt-out (aws/aws-sdk-js-v3#7983).
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
  },
});
