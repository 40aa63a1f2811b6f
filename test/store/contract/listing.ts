/** listExecutions: newest first, filters, paging with an opaque JSON `next`, and cursors it did not make. */
import { beforeAll, describe, expect, it } from "vitest";
import type { HistoryEvent } from "../../../lambdas/core/events.js";
import type { ExecutionStatus } from "../../../lambdas/core/status.js";
import { InvalidCursorError } from "../../../lambdas/store/cursor.js";
import type { ExecutionListPage, ExecutionStore, ListExecutionsQuery } from "../../../lambdas/ports/store.js";
import { batch, completeExecution, lease, newExecution, signal, sleepingUntil, T0 } from "./fixtures.js";
import type { StoreKit } from "./kits.js";

/** Every page of a query, each `next` passed back through JSON as the API's cursor carries it. */
async function allPages(store: ExecutionStore, query: Omit<ListExecutionsQuery, "after">): Promise<ExecutionListPage[]> {
  const pages: ExecutionListPage[] = [];
  let after: unknown;
  for (let i = 0; i < 200; i += 1) {
    const page = await store.listExecutions({ ...query, ...(after === undefined ? {} : { after }) });
    pages.push(page);
    if (page.next === undefined) return pages;
    after = JSON.parse(JSON.stringify(page.next));
  }
  throw new Error("paging did not end");
}

const idsOf = (pages: ExecutionListPage[]) => pages.flatMap((p) => p.executions.map((e) => e.id));

/**
 * 12 executions, one a millisecond, newest last: workflow "alpha" or "beta", and a status each.
 * Ids sort by creation, so `expected` filters them in order.
 */
const WORLD: { id: string; workflow: string; status: ExecutionStatus }[] = [
  { id: "x00", workflow: "alpha", status: "running" },
  { id: "x01", workflow: "beta", status: "completed" },
  { id: "x02", workflow: "alpha", status: "sleeping" },
  { id: "x03", workflow: "alpha", status: "completed" },
  { id: "x04", workflow: "beta", status: "running" },
  { id: "x05", workflow: "alpha", status: "failed" },
  { id: "x06", workflow: "alpha", status: "running" },
  { id: "x07", workflow: "beta", status: "sleeping" },
  { id: "x08", workflow: "alpha", status: "completed" },
  { id: "x09", workflow: "alpha", status: "canceled" },
  { id: "x10", workflow: "beta", status: "completed" },
  { id: "x11", workflow: "alpha", status: "running" },
];

function expected(filter: { workflow?: string; status?: ExecutionStatus }): string[] {
  return WORLD.filter((e) => (filter.workflow === undefined || e.workflow === filter.workflow) && (filter.status === undefined || e.status === filter.status))
    .map((e) => e.id)
    .reverse();
}

async function buildWorld(store: ExecutionStore): Promise<void> {
  for (const [i, e] of WORLD.entries()) {
    const at = T0 + i;
    if (e.status === "completed") {
      await completeExecution(store, e.id, at, { workflow: e.workflow });
      continue;
    }
    await store.createExecution(newExecution(e.id, { workflow: e.workflow, nowMs: at }));
    if (e.status === "running") continue;
    const taken = await lease(store, e.id, "w", at);
    const update =
      e.status === "sleeping" ? sleepingUntil(at + 60_000) : { status: e.status, nextWakeAtMs: null, releaseLease: true, ...(e.status === "failed" ? { error: { name: "Error", message: "no" } } : {}) };
    await store.commit(taken.lease, batch([], { execution: update }), at);
  }
}

export function listingContract(kit: StoreKit): void {
  let store: ExecutionStore;
  beforeAll(async () => {
    store = await kit.newStore();
    await buildWorld(store);
  });

  describe("listExecutions", () => {
    it("lists newest first, by workflow, by status, by both, or all statuses merged", async () => {
      const filters: { workflow?: string; status?: ExecutionStatus }[] = [
        {},
        { workflow: "alpha" },
        { workflow: "beta" },
        { status: "running" },
        { status: "completed" },
        { workflow: "alpha", status: "completed" },
        { workflow: "beta", status: "sleeping" },
        { workflow: "gamma" },
        { workflow: "beta", status: "failed" },
      ];
      for (const filter of filters) {
        const pages = await allPages(store, { ...filter, limit: 50 });
        expect([filter, idsOf(pages)]).toEqual([filter, expected(filter)]);
      }
    });

    it("shows an execution without input, output and error, read from the list's projection (lease and inbox counter included)", async () => {
      const own = await kit.newStore();
      await own.createExecution(newExecution("listed", { workflow: "solo", input: { secret: 1 } }));
      await own.addToInbox("listed", signal("s", 1), T0 + 1);
      await lease(own, "listed", "holder", T0 + 2);
      const page = await own.listExecutions({ workflow: "solo", limit: 10 });
      expect(page.executions).toStrictEqual([
        {
          id: "listed",
          workflow: "solo",
          version: 1,
          status: "running",
          createdAtMs: T0,
          updatedAtMs: T0,
          run: 1,
          runStartSeq: 1,
          lastSeq: 1,
          leaseOwner: "holder",
          leaseExpiresAtMs: expect.any(Number),
          leaseVersion: 1,
          retryCount: 1,
          inboxSeq: 1,
          nextWakeAtMs: T0 + 1,
        },
      ]);
      const done = await own.listExecutions({ status: "completed", limit: 10 });
      expect(done.executions).toEqual([]);
    });

    it("pages under every filter: each match exactly once, newest first, whatever the page size and read budget", async () => {
      const filters: { workflow?: string; status?: ExecutionStatus }[] = [{}, { workflow: "alpha" }, { status: "completed" }, { workflow: "alpha", status: "running" }, { workflow: "beta", status: "completed" }];
      for (const filter of filters) {
        for (const limit of [1, 3]) {
          for (const readBudget of [1, 2, 1_000]) {
            const pages = await allPages(store, { ...filter, limit, readBudget });
            expect([filter, limit, readBudget, idsOf(pages)]).toEqual([filter, limit, readBudget, expected(filter)]);
            for (const page of pages) expect(page.executions.length).toBeLessThanOrEqual(limit);
          }
        }
      }
    });

    it("ends pages where the DynamoDB store does: short pages under a selective filter, an empty last page after a full one", async () => {
      const shape = async (query: Omit<ListExecutionsQuery, "after">) => (await allPages(store, query)).map((p) => p.executions.map((e) => e.id));
      expect(await shape({ workflow: "alpha", status: "completed", limit: 1, readBudget: 2 })).toEqual([[], ["x08"], ["x03"], [], []]);
      expect(await shape({ workflow: "alpha", status: "running", limit: 2, readBudget: 3 })).toEqual([["x11"], ["x06"], ["x00"]]);
      expect(await shape({ workflow: "beta", limit: 2 })).toEqual([["x10", "x07"], ["x04", "x01"], []]);
      expect(await shape({ workflow: "beta", limit: 3 })).toEqual([["x10", "x07", "x04"], ["x01"]]);
      expect(await shape({ status: "completed", limit: 2, readBudget: 1 })).toEqual([["x10"], ["x08"], ["x03"], ["x01"], []]);
      // All statuses: five index partitions merged, none ahead of another.
      expect(await shape({ limit: 4, readBudget: 2 })).toEqual([["x11", "x10", "x09", "x08"], ["x07", "x06", "x05", "x04"], ["x03", "x02", "x01"], ["x00"]]);
      expect(await shape({ limit: 3 })).toEqual([["x11", "x10", "x09"], ["x08", "x07", "x06"], ["x05", "x04", "x03"], ["x02", "x01", "x00"]]);
    });

    it("reads a filtered index 100 items a query: a match among the first of many ends the listing in one page", async () => {
      const own = await kit.newStore();
      for (let i = 0; i < 11; i += 1) await own.createExecution(newExecution(`many-${i}`, { workflow: "many", nowMs: T0 + i }));
      await completeExecution(own, "many-newest", T0 + 11, { workflow: "many" });
      const pages = await allPages(own, { workflow: "many", status: "completed", limit: 1 });
      expect(pages).toStrictEqual([{ executions: [expect.objectContaining({ id: "many-newest" })] }]);
    });

    it("hands out a `next` that is a JSON value, and refuses one it did not make with InvalidCursorError", async () => {
      const first = await store.listExecutions({ workflow: "alpha", limit: 2 });
      // Where the page stopped: the last execution handed out, as listing.ts positions say it.
      expect(first.next).toStrictEqual({ workflow: { at: T0 + 9, id: "x09" } });
      expect(JSON.parse(JSON.stringify(first.next))).toStrictEqual(first.next);
      for (const after of ["a string", 42, [1], { nope: { at: 1, id: "x" } }, { workflow: { at: -1, id: "x" } }, { workflow: { at: 1, id: "" } }, { workflow: "x" }, { running: null }]) {
        await expect(store.listExecutions({ workflow: "alpha", limit: 2, after })).rejects.toBeInstanceOf(InvalidCursorError);
      }
      // A position of another query's shape is refused too.
      const byStatus = await store.listExecutions({ status: "running", limit: 1 });
      await expect(store.listExecutions({ workflow: "alpha", limit: 2, after: byStatus.next })).rejects.toBeInstanceOf(InvalidCursorError);
    });

    it("pages through executions created in one millisecond without repeating or skipping one", async () => {
      const own = await kit.newStore();
      const ids = ["tie-m", "tie-b", "tie-z", "tie-a", "tie-k", "tie-c"];
      for (const id of ids) await own.createExecution(newExecution(id, { workflow: "ties", nowMs: T0 }));
      await own.createExecution(newExecution("tie-newer", { workflow: "ties", nowMs: T0 + 1 }));
      for (const limit of [1, 2, 4]) {
        const listed = idsOf(await allPages(own, { workflow: "ties", limit }));
        expect(listed[0]).toBe("tie-newer");
        expect([...listed.slice(1)].sort()).toEqual([...ids].sort());
      }
    });
  });

  describe("listExecutions for a tenant", () => {
    let tenanted: ExecutionStore;
    beforeAll(async () => {
      tenanted = await kit.newStore();
      const starts: [string, string, Record<string, string> | undefined][] = [
        ["t1/a", "alpha", { team: "red" }],
        ["t2/a", "alpha", { team: "red" }],
        ["u-a", "alpha", { team: "red" }],
        ["t1/b", "beta", undefined],
        ["t10/a", "alpha", { team: "red" }],
        ["t1/c", "alpha", { team: "blue" }],
      ];
      for (const [i, [id, workflow, tags]] of starts.entries()) {
        await tenanted.createExecution(newExecution(id, { workflow, nowMs: T0 + i, ...(tags === undefined ? {} : { tags }) }));
      }
      // A child started by a tenant's execution is listed with that tenant's.
      const taken = await lease(tenanted, "t1/b", "w", T0 + 10);
      const event: HistoryEvent = { seq: 2, atMs: T0 + 10, type: "ChildStarted", position: 0, name: "kid", childId: "t1/b~1.0", workflow: "kid", version: 1 };
      await tenanted.commit(taken.lease, batch([event], { childStarts: [{ childId: "t1/b~1.0", workflow: "kid", version: 1, input: null, parentPosition: 0 }] }), T0 + 10);
    });

    it("reads the tenant's own entries alone, by workflow, status and tag, and paged", async () => {
      const cases: [Omit<ListExecutionsQuery, "limit" | "after">, string[]][] = [
        [{ tenant: "t1" }, ["t1/b~1.0", "t1/c", "t1/b", "t1/a"]],
        [{ tenant: "t1", workflow: "alpha" }, ["t1/c", "t1/a"]],
        [{ tenant: "t1", status: "running" }, ["t1/b~1.0", "t1/c", "t1/b", "t1/a"]],
        [{ tenant: "t1", tags: { team: "red" } }, ["t1/a"]],
        [{ tenant: "t2" }, ["t2/a"]],
        [{ tenant: "t10" }, ["t10/a"]],
        [{ tenant: "t3" }, []],
        [{}, ["u-a"]],
        [{ tags: { team: "red" } }, ["u-a"]],
        [{ workflow: "alpha" }, ["u-a"]],
      ];
      for (const [query, ids] of cases) {
        for (const limit of [1, 3, 50]) {
          const pages = await allPages(tenanted, { ...query, limit }).catch((err: unknown) => {
            throw new Error(`${JSON.stringify(query)} limit ${limit}: ${String(err)}`);
          });
          expect(idsOf(pages), `${JSON.stringify(query)} limit ${limit}`).toEqual(ids);
        }
      }
    });

    it("refuses another tenant's position as it refuses one it did not make", async () => {
      const first = await tenanted.listExecutions({ tenant: "t1", limit: 1 });
      expect(first.next).toBeDefined();
      const other = await tenanted.listExecutions({ tenant: "t2", limit: 1, after: first.next });
      expect(other.executions.every((e) => e.id.startsWith("t2/"))).toBe(true);
    });
  });
}
