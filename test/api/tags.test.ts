/**
 * Tags and delayed starts over HTTP, against the local stack: `POST /executions` with `tags` and
 * `startAt`, `GET /executions?tag.<key>=<value>`, the items a tagged start writes (one per tag,
 * spread over the tag index's shards), and the 400s for bad tags and start times, which write
 * nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { approval, greet } from "../../examples/index.js";
import { TAG_SHARDS, tagShard } from "../../lambdas/store/keys.js";
import type { LocalStack } from "../../local/stack.js";
import { call, expectErrorShape, expectNothingWritten, snapshotTable, startApiStack, waitForStatus } from "./support.js";

let stack: LocalStack;

beforeAll(async () => {
  stack = await startApiStack("api-tags", [greet, approval]);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe("tags over HTTP", () => {
  it("starts with tags, shows them, lists by them, and writes one tag item per tag", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      const id = `tagged-${String(i).padStart(2, "0")}`;
      const answer = await call(stack, "POST", "/executions", { body: { workflow: "approval", id, input: { request: `r${i}` }, tags: { customer: "c-42", tier: i < 4 ? "gold" : "basic" } } });
      expect(answer.status, answer.text).toBe(201);
      expect(answer.body.tags).toEqual({ customer: "c-42", tier: i < 4 ? "gold" : "basic" });
      ids.push(id);
      await new Promise((r) => setTimeout(r, 3));
    }
    expect((await call(stack, "POST", "/executions", { body: { workflow: "greet", id: "untagged", input: { name: "x" } } })).status).toBe(201);

    const listed = await call(stack, "GET", "/executions?tag.customer=c-42&limit=100");
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.executions.map((e: { id: string }) => e.id)).toEqual([...ids].reverse());
    const gold = await call(stack, "GET", `/executions?tag.customer=c-42&tag.tier=gold&workflow=approval`);
    expect(gold.body.executions.map((e: { id: string }) => e.id)).toEqual(ids.slice(0, 4).reverse());
    for (const id of ids) await waitForStatus(stack, id, ["sleeping"]);
    await waitForStatus(stack, "untagged", ["completed"]);

    // Paging with a small limit goes through every shard once.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(stack, "GET", `/executions?tag.customer=c-42&limit=5${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status, page.text).toBe(200);
      paged.push(...page.body.executions.map((e: { id: string }) => e.id));
      cursor = page.body.cursor;
    } while (cursor);
    expect(paged).toEqual([...ids].reverse());
    // A cursor of the tag query is refused for another query.
    const first = await call(stack, "GET", "/executions?tag.customer=c-42&limit=2");
    expectErrorShape(await call(stack, "GET", `/executions?tag.customer=c-43&cursor=${first.body.cursor}`), "INVALID_CURSOR");

    const items = await snapshotTable(stack);
    const tagItems = items.filter((item) => String(item.SK).startsWith("TAG#"));
    expect(tagItems).toHaveLength(24);
    const shards = new Set(tagItems.filter((item) => item.SK === "TAG#customer").map((item) => String(item.tagKey)));
    expect([...shards].every((key) => /^customer=c-42#[0-9]$/.test(key))).toBe(true);
    expect(shards.size).toBeGreaterThan(1);
    for (const id of ids) expect(tagShard(id)).toBeLessThan(TAG_SHARDS);
  });

  it("refuses bad tags and start times with 400 and writes nothing", async () => {
    const bad: [string, Record<string, unknown>, string][] = [
      ["tags not strings", { tags: { customer: 42 } }, "INVALID_INPUT"],
      ["a bad tag key", { tags: { "no spaces": "x" } }, "INVALID_TAGS"],
      ["eleven tags", { tags: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])) }, "INVALID_TAGS"],
      ["an empty value", { tags: { k: "" } }, "INVALID_TAGS"],
      ["startAt without a zone", { startAt: "2027-01-01T09:00:00" }, "INVALID_INPUT"],
      ["startAt not a time", { startAt: "tomorrow" }, "INVALID_INPUT"],
      ["startAt too far", { startAt: new Date(Date.now() + 400 * 86_400_000).toISOString() }, "INVALID_START_AT"],
    ];
    for (const [name, extra, code] of bad) {
      const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body: { workflow: "greet", id: "refused", input: { name: "x" }, ...extra } }));
      expect(answer.status, name).toBe(400);
      expectErrorShape(answer, code);
    }
    expectErrorShape(await call(stack, "GET", "/executions?tag.bad%20key=x"), "INVALID_TAGS");
    expectErrorShape(await call(stack, "GET", "/executions?tag.k="), "INVALID_TAGS");
  });

  it("a delayed start sleeps until its time, shown in the view", async () => {
    const startAt = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, ".000Z");
    const answer = await call(stack, "POST", "/executions", { body: { workflow: "greet", id: "later", input: { name: "x" }, startAt } });
    expect(answer.status, answer.text).toBe(201);
    expect(answer.body).toMatchObject({ status: "sleeping", startAt, nextWakeAt: startAt });
    await new Promise((r) => setTimeout(r, 500));
    const now = await call(stack, "GET", "/executions/later");
    expect(now.body).toMatchObject({ status: "sleeping", startAt });
    const history = await call(stack, "GET", "/executions/later/history");
    expect(history.body.events.some((e: { type: string }) => e.type === "StepCompleted")).toBe(false);
  });
});
