/**
 * For test files: clients for the services the global setup started, and
 * names that no other test file will use.
 */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { localClients, type LocalClients } from "../../local/aws-clients.js";

/** SDK clients for this run's DynamoDB Local and SQS emulator. */
export function testClients(): LocalClients {
  return localClients({ dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") });
}

// Valid both as a DynamoDB table name ([A-Za-z0-9_.-], 3..255) and as an
// SQS queue name ([A-Za-z0-9_-], 1..80; a FIFO queue adds ".fifo").
const NAME_CHARS = /^[A-Za-z0-9_-]+$/;
const SUFFIX_LENGTH = 13; // "-" + 12 hex characters
const MAX_QUEUE_NAME = 80 - ".fifo".length;

/**
 * `prefix` plus a random suffix, usable as a table or queue name.
 *
 * @example
 * uniqueName("history"); // "history-3f9a0c2b7d1e"
 */
export function uniqueName(prefix: string): string {
  if (!NAME_CHARS.test(prefix) || prefix.length + SUFFIX_LENGTH > MAX_QUEUE_NAME) {
    throw new Error(
      `uniqueName prefix ${JSON.stringify(prefix)} must be 1..${MAX_QUEUE_NAME - SUFFIX_LENGTH} characters of A-Z a-z 0-9 _ -`,
    );
  }
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}
