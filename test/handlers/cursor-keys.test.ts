/**
 * Cursor keys from Secrets Manager (handlers/cursor-keys.ts): the current version signs, the one
 * rotated out still verifies, so a client paging through a list across a rotation is never
 * refused; a failed re-read keeps the keys it had; and the deployed API reads them before a GET,
 * never from its environment.
 */
import { describe, expect, it } from "vitest";
import { cursorCodecFrom, type SecretReader } from "../../lambdas/handlers/cursor-keys.js";
import { createApiHandler } from "../../lambdas/handlers/api.js";
import { defineWorkflow } from "../../lambdas/index.js";
import { createTestEnvironment } from "../../lambdas/testing/index.js";
import { apiEvent, callHandler } from "../support/api-events.js";

const KEY_A = "a".repeat(40);
const KEY_B = "b".repeat(40);
const KEY_C = "c".repeat(40);

/** A secret with versions by stage, as Secrets Manager keeps them; `rotate` moves AWSCURRENT to AWSPREVIOUS. */
function fakeSecret(first: string) {
  const stages: { AWSCURRENT: string; AWSPREVIOUS?: string } = { AWSCURRENT: first };
  let reads = 0;
  let failing = false;
  const read: SecretReader = async (stage) => {
    reads += 1;
    if (failing) throw new Error("Secrets Manager is unreachable");
    return stages[stage];
  };
  return {
    read,
    rotate(next: string) {
      stages.AWSPREVIOUS = stages.AWSCURRENT;
      stages.AWSCURRENT = next;
    },
    fail(on: boolean) {
      failing = on;
    },
    reads: () => reads,
  };
}

describe("cursor keys", () => {
  it("accept a cursor signed before a rotation, refuse one two rotations old, and re-read only after their max age", async () => {
    const secret = fakeSecret(KEY_A);
    let now = 0;
    const codec = cursorCodecFrom(secret.read, { maxAgeMs: 1_000, now: () => now });
    const beforeRotation = (await codec()).encode("q", 1);
    const readsAfterFirst = secret.reads();
    await codec();
    expect(secret.reads()).toBe(readsAfterFirst); // cached

    secret.rotate(KEY_B);
    now += 1_001;
    const rotated = await codec();
    expect(rotated.decode("q", beforeRotation)).toBe(1);
    const afterRotation = rotated.encode("q", 2);
    expect(afterRotation).not.toBe(beforeRotation.replace(/^.*\./, ""));

    secret.rotate(KEY_C);
    now += 1_001;
    const twice = await codec();
    expect(twice.decode("q", afterRotation)).toBe(2);
    expect(() => twice.decode("q", beforeRotation)).toThrow(/bad signature/);
  });

  it("keep the keys they had when a re-read fails, and fail the first read", async () => {
    const secret = fakeSecret(KEY_A);
    let now = 0;
    const codec = cursorCodecFrom(secret.read, { maxAgeMs: 10, now: () => now });
    const cursor = (await codec()).encode("q", "x");
    secret.fail(true);
    now += 100;
    expect((await codec()).decode("q", cursor)).toBe("x");
    const cold = cursorCodecFrom(secret.read);
    await expect(cold()).rejects.toThrow(/unreachable/);
  });

  it("are what the API pages with: a list paged across a rotation goes on", async () => {
    const wf = defineWorkflow("keys-wf", async () => "done");
    const env = await createTestEnvironment({ workflows: [wf] });
    for (let i = 0; i < 3; i += 1) await env.start(wf, null, { id: `k-${i}` });
    const secret = fakeSecret(KEY_A);
    let now = 0;
    const handler = createApiHandler(env.deps, { cursorCodec: cursorCodecFrom(secret.read, { maxAgeMs: 1_000, now: () => now }) });
    const get = async (query: string) => {
      const response = await callHandler(handler, apiEvent("GET", "/executions", { query }));
      return { status: response.statusCode, body: JSON.parse(String(response.body)) as { executions: { id: string }[]; cursor?: string } };
    };
    const first = await get("limit=2");
    expect(first.body.executions.map((e) => e.id)).toEqual(["k-2", "k-1"]);
    secret.rotate(KEY_B);
    now += 5_000;
    const second = await get(`limit=2&cursor=${first.body.cursor}`);
    expect([second.status, second.body.executions.map((e) => e.id)]).toEqual([200, ["k-0"]]);
  });
});
