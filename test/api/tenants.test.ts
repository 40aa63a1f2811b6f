/**
 * Tenants over HTTP, against the local stack with two tenants' tokens: each tenant names its
 * executions by its own ids (the same id in two tenants is two executions), lists only its own,
 * and gets exactly the answer of a missing execution for every id of the other tenant, on every
 * route, writing nothing; children belong to their parent's tenant; cursors and callback tokens
 * do not cross; a token of no tenant is refused. A fuzz of ids and cursors across tenants ends it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineWorkflow } from "../../lambdas/index.js";
import { approval, greet } from "../../examples/index.js";
import { createPrng } from "../../lambdas/core/prng.js";
import { decodeCallbackToken, encodeCallbackToken } from "../../lambdas/core/callbacks.js";
import type { LocalStack } from "../../local/stack.js";
import { type ApiAnswer, call, expectErrorShape, expectNothingWritten, quiesce, snapshotTable, startApiStack, waitForStatus } from "./support.js";

const kid = defineWorkflow("tenant-kid", async (ctx, input: { n: number }) => {
  await ctx.waitForSignal("go", { timeout: "1 hour" });
  return input.n;
});
const family = defineWorkflow("tenant-family", async (ctx) => Promise.all([ctx.child(kid, { n: 1 }), ctx.child(kid, { n: 2 }, { id: "named-kid" })]));
/** A child's own id may not name a tenant, nor be longer than an id in a path. */
const badKids = defineWorkflow("tenant-bad-kids", async (ctx) => {
  const codes: string[] = [];
  for (const id of ["b/stolen", "x".repeat(257)]) {
    try {
      await ctx.child(kid, { n: 0 }, { id });
    } catch (err) {
      codes.push((err as { code: string }).code);
    }
  }
  return codes;
});
const asker = defineWorkflow("tenant-asker", async (ctx) => {
  const callback = ctx.createCallback<{ answer: string }>("reply", { timeout: "1 hour" });
  ctx.setState({ token: callback.token });
  return callback.result;
});

let stack: LocalStack;
let tokenA: string;
let tokenB: string;

beforeAll(async () => {
  stack = await startApiStack("api-tenants", [greet, approval, family, kid, asker, badKids], { tenants: ["a", "b"] });
  tokenA = stack.tenantTokens.a as string;
  tokenB = stack.tenantTokens.b as string;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const as = (token: string) => ({ token });
const poll = (id: string, token: string, statuses: string[]) => waitForStatus({ ...stack, bearerToken: token }, id, statuses);

/** The answer with the id it names replaced, to compare answers about two different ids. */
function shape(answer: ApiAnswer, id: string): string {
  return `${answer.status} ${answer.text.split(id).join("<id>")}`;
}

describe("tenants over HTTP", () => {
  it("refuses a token of no tenant with 403 TENANT_REQUIRED, writing nothing", async () => {
    const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body: { workflow: "greet", id: "x", input: { name: "x" } } }));
    expectErrorShape(answer, "TENANT_REQUIRED");
    expect(answer.status).toBe(403);
    expectErrorShape(await call(stack, "GET", "/executions"), "TENANT_REQUIRED");
  });

  it("keeps the same id in two tenants apart, and stores each under its tenant", async () => {
    const a = await call(stack, "POST", "/executions", { ...as(tokenA), body: { workflow: "approval", id: "order-1", input: { request: "from a" }, tags: { team: "red" } } });
    expect(a.status, a.text).toBe(201);
    expect(a.body.id).toBe("order-1");
    expect(a.headers.get("location")).toBe("/executions/order-1");
    const b = await call(stack, "POST", "/executions", { ...as(tokenB), body: { workflow: "approval", id: "order-1", input: { request: "from b" }, tags: { team: "red" } } });
    expect(b.status, b.text).toBe(201);
    await poll("order-1", tokenA, ["sleeping"]);
    await poll("order-1", tokenB, ["sleeping"]);
    expect((await call(stack, "GET", "/executions/order-1", as(tokenA))).body.input).toEqual({ request: "from a" });
    expect((await call(stack, "GET", "/executions/order-1", as(tokenB))).body.input).toEqual({ request: "from b" });

    const ids = (await snapshotTable(stack)).filter((i) => i.SK === "META").map((i) => String(i.id));
    expect(ids).toEqual(expect.arrayContaining(["a/order-1", "b/order-1"]));

    // B's signal reaches B's execution only.
    expect((await call(stack, "POST", "/executions/order-1/signals/decision", { ...as(tokenB), body: { approved: true, by: "bob" } })).status).toBe(202);
    expect((await poll("order-1", tokenB, ["completed"])).body.output).toMatchObject({ status: "approved", by: "bob" });
    expect((await call(stack, "GET", "/executions/order-1", as(tokenA))).body.status).toBe("sleeping");
  });

  it("lists a tenant's executions alone, by workflow, status and tag, and no cursor crosses", async () => {
    for (let i = 0; i < 3; i += 1) {
      expect((await call(stack, "POST", "/executions", { ...as(tokenA), body: { workflow: "greet", id: `greet-a-${i}`, input: { name: "a" }, tags: { team: "red" } } })).status).toBe(201);
    }
    expect((await call(stack, "POST", "/executions", { ...as(tokenB), body: { workflow: "greet", id: "greet-b-0", input: { name: "b" }, tags: { team: "red" } } })).status).toBe(201);
    await poll("greet-a-2", tokenA, ["completed"]);
    await poll("greet-b-0", tokenB, ["completed"]);

    const listed = async (token: string, query: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await call(stack, "GET", `/executions?${query}&limit=2${cursor ? `&cursor=${cursor}` : ""}`, as(token));
        expect(page.status, page.text).toBe(200);
        ids.push(...page.body.executions.map((e: { id: string }) => e.id));
        cursor = page.body.cursor;
      } while (cursor);
      return ids.sort();
    };
    for (const query of ["", "workflow=greet", "status=completed", "tag.team=red", "workflow=greet&tag.team=red"]) {
      const a = await listed(tokenA, query);
      const b = await listed(tokenB, query);
      expect(a.every((id) => !id.includes("/")), query).toBe(true);
      expect(a.filter((id) => id.startsWith("greet-")), query).toEqual(["greet-a-0", "greet-a-1", "greet-a-2"]);
      expect(b.filter((id) => id.startsWith("greet-")), query).toEqual(["greet-b-0"]);
      expect(a.some((id) => id.startsWith("greet-b")) || b.some((id) => id.startsWith("greet-a")), query).toBe(false);
    }
    // A's cursor is refused for B, on the very same query.
    const first = await call(stack, "GET", "/executions?workflow=greet&limit=1", as(tokenA));
    expect(first.body.cursor).toBeDefined();
    expectErrorShape(await call(stack, "GET", `/executions?workflow=greet&limit=1&cursor=${first.body.cursor}`, as(tokenB)), "INVALID_CURSOR");
    // And a history cursor of A's order-1 for B's order-1.
    const history = await call(stack, "GET", "/executions/order-1/history?limit=1", as(tokenA));
    expect(history.body.cursor).toBeDefined();
    expectErrorShape(await call(stack, "GET", `/executions/order-1/history?limit=1&cursor=${history.body.cursor}`, as(tokenB)), "INVALID_CURSOR");
  });

  it("answers every id of the other tenant exactly as a missing one, on every route, writing nothing", async () => {
    expect((await call(stack, "POST", "/executions", { ...as(tokenA), body: { workflow: "approval", id: "only-a", input: { request: "r" } } })).status).toBe(201);
    await poll("only-a", tokenA, ["sleeping"]);
    const routes: [string, (id: string) => string, unknown?][] = [
      ["GET", (id) => `/executions/${id}`],
      ["GET", (id) => `/executions/${id}/history`],
      ["POST", (id) => `/executions/${id}/signals/decision`, { approved: true }],
      ["POST", (id) => `/executions/${id}/cancel`, {}],
      ["POST", (id) => `/executions/${id}/terminate`, {}],
      ["POST", (id) => `/executions/${id}/redrive`, {}],
    ];
    for (const [method, path, body] of routes) {
      const theirs = await expectNothingWritten(stack, () => call(stack, method, path("only-a"), { ...as(tokenB), ...(body === undefined ? {} : { body }) }));
      const nobodys = await call(stack, method, path("never-was"), { ...as(tokenB), ...(body === undefined ? {} : { body }) });
      expect(theirs.status, `${method} ${path("only-a")}`).toBe(404);
      expect(shape(theirs, "only-a"), `${method} ${path("only-a")}`).toBe(shape(nobodys, "never-was"));
      expect(theirs.text).not.toContain("a/");
    }
    expect((await call(stack, "GET", "/executions/only-a", as(tokenA))).body.status).toBe("sleeping");
  });

  it("gives children the parent's tenant, with and without ids of their own", async () => {
    expect((await call(stack, "POST", "/executions", { ...as(tokenA), body: { workflow: "tenant-family", id: "fam" } })).status).toBe(201);
    await poll("named-kid", tokenA, ["sleeping"]);
    const parentHistory = await call(stack, "GET", "/executions/fam/history", as(tokenA));
    const childIds = parentHistory.body.events.filter((e: { type: string }) => e.type === "ChildStarted").map((e: { childId: string }) => e.childId);
    expect(childIds).toEqual(["fam~1.0", "named-kid"]);
    const child = await call(stack, "GET", "/executions/fam~1.0", as(tokenA));
    expect(child.body).toMatchObject({ id: "fam~1.0", parentId: "fam" });
    expect((await call(stack, "GET", "/executions/fam~1.0", as(tokenB))).status).toBe(404);
    expect((await call(stack, "GET", "/executions/named-kid", as(tokenB))).status).toBe(404);
    const kids = await call(stack, "GET", "/executions?workflow=tenant-kid", as(tokenA));
    expect(kids.body.executions.map((e: { id: string }) => e.id).sort()).toEqual(["fam~1.0", "named-kid"]);
    expect((await call(stack, "GET", "/executions?workflow=tenant-kid", as(tokenB))).body.executions).toEqual([]);
    const ids = (await snapshotTable(stack)).filter((i) => i.SK === "META").map((i) => String(i.id));
    expect(ids).toEqual(expect.arrayContaining(["a/fam~1.0", "a/named-kid"]));
    for (const id of ["fam~1.0", "named-kid"]) expect((await call(stack, "POST", `/executions/${id}/signals/go`, { ...as(tokenA), body: {} })).status).toBe(202);
    expect((await poll("fam", tokenA, ["completed"])).body.output).toEqual([1, 2]);

    expect((await call(stack, "POST", "/executions", { ...as(tokenA), body: { workflow: "tenant-bad-kids", id: "bad-kids" } })).status).toBe(201);
    expect((await poll("bad-kids", tokenA, ["completed"])).body.output).toEqual(["INVALID_CHILD_ID", "INVALID_CHILD_ID"]);
    expect((await call(stack, "GET", "/executions/stolen", as(tokenB))).status).toBe(404);
  });

  it("answers another tenant's callback token as one that matches no callback", async () => {
    expect((await call(stack, "POST", "/executions", { ...as(tokenA), body: { workflow: "tenant-asker", id: "asks" } })).status).toBe(201);
    const asking = await poll("asks", tokenA, ["sleeping"]);
    const token = asking.body.state.token as string;
    // The same execution and position, a callback id that was never handed out.
    const ref = decodeCallbackToken(token)!;
    const forged = encodeCallbackToken({ ...ref, callbackId: "A".repeat(22) });
    for (const suffix of ["", "/fail", "/heartbeat"]) {
      const theirs = await expectNothingWritten(stack, () => call(stack, "POST", `/callbacks/${token}${suffix}`, { ...as(tokenB), body: { message: "from b" } }));
      const nobodys = await call(stack, "POST", `/callbacks/${forged}${suffix}`, { ...as(tokenA), body: { message: "x" } });
      expect(theirs.status, suffix).toBe(404);
      expect(theirs.text, suffix).toBe(nobodys.text);
    }
    expect((await call(stack, "POST", `/callbacks/${token}`, { ...as(tokenA), body: { answer: "from a" } })).status).toBe(202);
    expect((await poll("asks", tokenA, ["completed"])).body.output).toEqual({ answer: "from a" });
  });

  it("runs a tenant's bulk job over that tenant's executions alone", async () => {
    for (const [token, id] of [[tokenA, "bulk-a"], [tokenB, "bulk-b"]] as const) {
      expect((await call(stack, "POST", "/executions", { token, body: { workflow: "approval", id, input: { request: "r" }, tags: { wave: "1" } } })).status).toBe(201);
      await poll(id, token, ["sleeping"]);
    }
    const job = await call(stack, "POST", "/bulk", { ...as(tokenB), body: { action: "cancel", filter: { tags: { wave: "1" } }, id: "wave-1" } });
    expect(job.status, job.text).toBe(202);
    expect(job.body.id).toBe("wave-1");
    const done = await poll("wave-1", tokenB, ["completed"]);
    expect(done.body.output).toMatchObject({ matched: 1, done: 1 });
    await poll("bulk-b", tokenB, ["canceled"]);
    expect((await call(stack, "GET", "/executions/bulk-a", as(tokenA))).body.status).toBe("sleeping");
    expect((await call(stack, "GET", "/executions/wave-1", as(tokenA))).status).toBe(404);
  });

  it("fuzz: random ids and cursors of one tenant, sent as the other, never reach the other's data", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);
    console.log(`tenant fuzz seed: ${seed}`);
    const random = createPrng(seed);
    const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const aIds = ["order-1", "only-a", "fam", "fam~1.0", "named-kid", "asks", "greet-a-0", "bulk-a"];
    const cursorsOfA: string[] = [];
    for (const query of ["workflow=greet", "", "tag.team=red", "status=completed"]) {
      const page = await call(stack, "GET", `/executions?${query}&limit=1`, as(tokenA));
      if (page.body.cursor) cursorsOfA.push(page.body.cursor);
    }
    const before = JSON.stringify(await quiesce(stack));
    for (let i = 0; i < 60; i += 1) {
      const id = pick([...aIds, `a/${pick(aIds)}`, `${pick(aIds)}~1.${Math.floor(random() * 3)}`, encodeURIComponent(`a/${pick(aIds)}`), `${pick(aIds)}.`, "b"]);
      const kind = pick(["get", "history", "signal", "cancel", "list"] as const);
      const answer =
        kind === "get"
          ? await call(stack, "GET", `/executions/${id}`, as(tokenB))
          : kind === "history"
            ? await call(stack, "GET", `/executions/${id}/history${random() < 0.5 && cursorsOfA.length ? `?cursor=${pick(cursorsOfA)}` : ""}`, as(tokenB))
            : kind === "signal"
              ? await call(stack, "POST", `/executions/${id}/signals/decision`, { ...as(tokenB), body: { approved: true } })
              : kind === "cancel"
                ? await call(stack, "POST", `/executions/${id}/cancel`, { ...as(tokenB), body: {} })
                : await call(stack, "GET", `/executions?${pick(["workflow=greet&", "", "tag.team=red&", "status=completed&"])}cursor=${pick(cursorsOfA)}`, as(tokenB));
      const where = `seed ${seed}, #${i}: ${kind} ${id} → ${answer.status} ${answer.text.slice(0, 200)}`;
      // B holds none of these ids except order-1 (its own, completed), so nothing succeeds but a read of it.
      if (answer.status < 300) {
        expect(kind === "get" || kind === "history", where).toBe(true);
        expect(decodeURIComponent(id), where).toBe("order-1");
        expect(answer.text, where).not.toContain("from a");
      } else {
        expect([400, 404, 409], where).toContain(answer.status);
        if (answer.status === 409) expect(decodeURIComponent(id), where).toBe("order-1");
      }
      expect(answer.text, where).not.toMatch(/"a\//);
    }
    expect(JSON.stringify(await snapshotTable(stack))).toBe(before);
  });
});
