/**
 * `npm run soak`: the soak (soak.ts) alone, with the suite's global setup (DynamoDB Local and
 * the SQS emulator), outside the default include so `npm test` never runs it.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/faults/soak.ts"],
    reporters: ["default", "./test/summary-reporter.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Thousands of executions on DynamoDB Local: the scenario's own deadline bounds it.
    testTimeout: 60 * 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    env: {
      // As in vitest.config.ts: the SDK's Node-version notice, once per process.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
  },
});
