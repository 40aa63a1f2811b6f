/** Test kit for workflow authors: `import { createTestEnvironment } from "<this package>/testing"`. */
export { createTestEnvironment, TestEnvironment, type TestEnvironmentOptions } from "./test-environment.js";
// The same kit in memory: no DynamoDB Local, no SQS emulator, no Java.
export { createMemoryTestEnvironment, MemoryTestEnvironment, type MemoryTestEnvironmentOptions } from "./memory-environment.js";
export { MemoryExecutionStore, type MemoryStoreOptions } from "./memory-store.js";
export { MemoryRedelivery, MemoryWakeupScheduler, type MemoryWakeupSchedulerOptions } from "./memory-scheduler.js";
export { MemoryQueue, type DeadLetter, type MemoryQueueOptions, type ReceivedMessage } from "./memory-queue.js";
