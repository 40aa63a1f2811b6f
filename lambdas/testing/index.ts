/**
 * `durable-aws/testing`: test workflows in memory (no Java, no services) and replay saved
 * histories against changed code. The same environment on DynamoDB Local and the SQS emulator
 * is `durable-aws/testing/dynamodb-local`. docs/testing.md walks through both.
 *
 * @example
 * import { createTestEnvironment, replayHistory } from "durable-aws/testing";
 *
 * const env = await createTestEnvironment({ workflows: [approval] });
 * const id = await env.start(approval, { request: "laptop" });
 * await env.advanceTime("3 days");
 * await env.signal(id, "decision", { approved: true });
 * expect(await env.result(id)).toEqual({ status: "approved" });
 * await replayHistory(approval, await env.history(id), { executionId: id });
 */
export { createTestEnvironment, TestEnvironment, type TestEnvironmentOptions } from "./memory-environment.js";
export { TestKit, type KitStartOptions } from "./test-kit.js";
export type { FireOutcome } from "../starts/fire.js";
export { replayHistory, type ReplayOptions, type ReplayReport } from "./replay.js";
export { ReplayInputError, type SavedHistory } from "./saved-history.js";
// The parts the environment is made of, for tests that assemble their own (advanced).
export { MemoryExecutionStore, type MemoryStoreOptions } from "./memory-store.js";
export { MemoryRedelivery, MemoryWakeupScheduler, type MemoryWakeupSchedulerOptions } from "./memory-scheduler.js";
export { MemoryQueue, type DeadLetter, type MemoryQueueOptions, type ReceivedMessage } from "./memory-queue.js";
