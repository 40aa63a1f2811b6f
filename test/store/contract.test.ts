/**
 * The store contract: THE SAME tests against DynamoExecutionStore (on DynamoDB Local) and
 * MemoryExecutionStore, so the in-memory test kit behaves as production does and a change to
 * either store that the other does not follow fails here. Each concern is a file under
 * ./contract/; expectations pin what DynamoDB does, quirks included (marked "reported").
 */
import { describe } from "vitest";
import { childContract } from "./contract/children.js";
import { commitContract } from "./contract/commits.js";
import { executionContract } from "./contract/executions.js";
import { inboxContract } from "./contract/inbox.js";
import { STORE_KITS } from "./contract/kits.js";
import { leaseContract } from "./contract/leases.js";
import { listingContract } from "./contract/listing.js";
import { sweepContract } from "./contract/sweeping.js";
import { valuesContract } from "./contract/values.js";

describe.each(STORE_KITS)("$name", (kit) => {
  describe("executions and history", () => executionContract(kit));
  describe("leases", () => leaseContract(kit));
  describe("commits", () => commitContract(kit));
  describe("children and notices", () => childContract(kit));
  describe("inbox", () => inboxContract(kit));
  describe("sweeping", () => sweepContract(kit));
  describe("listing", () => listingContract(kit));
  describe("values", () => valuesContract(kit));
});
