/** Test kit for workflow authors: `import { createTestEnvironment } from "<this package>/testing"`. */
export { createTestEnvironment, TestEnvironment, type TestEnvironmentOptions } from "./test-environment";
