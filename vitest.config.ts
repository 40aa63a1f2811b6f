import { defineConfig } from "vitest/config";

/**
 * Files whose assertions bound real time (the fault suites' latency bounds, Lambda timeouts
 * stood in for by seconds): they run last, one at a time, on a quiet machine. Everything else
 * waits mostly on the services and runs two files at once.
 */
const TIMED = ["test/faults/**/*.test.ts", "test/guarantees/long-steps.test.ts", "test/guarantees/lost-wakeups.test.ts"];

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    // Starts DynamoDB Local and the SQS emulator once per run (per project).
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    env: {
      // The SDK warns once per process that releases after January 2027
      // need Node 22; documented opt-out (aws/aws-sdk-js-v3#7983).
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    projects: [
      { extends: true, test: { name: "suite", include: ["test/**/*.test.ts"], exclude: TIMED, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "timed", include: TIMED, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
