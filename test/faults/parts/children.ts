/**
 * Child workflows: parents that start three children at once (two that end at once in a step, so
 * their results reach the parent together, and one that waits for a signal) and await their
 * outputs; and parents canceled while their children run, whose children must end canceled.
 */
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector } from "../../support/faults.js";
import { sleep } from "../api-client.js";
import { expectStatus } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart, until } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface ChildrenOptions {
  /** Parents that complete with their children's outputs. */
  parents: number;
  /** Parents canceled while their children wait. */
  canceledParents: number;
}

const PARENT = "fault-parent";
const CANCELED_PARENT = "fault-parent-canceled";
const KID_STEP = "fault-kid-step";
const KID_SIGNAL = "fault-kid-signal";
const KID_FOREVER = "fault-kid-forever";

/** How long the scenario waits for a parent to start its children (about the due bound: later is a stranded parent). */

export function childrenPart(faults: FaultInjector, options: ChildrenOptions): ScenarioPart {
  const kidStep = defineWorkflow(KID_STEP, async (ctx, input: { n: number }) => {
    const r = await ctx.step("times7", (info) => faults.step(info, () => input.n * 7));
    return { v: r.v };
  });
  const kidSignal = defineWorkflow(KID_SIGNAL, async (ctx) => ({ got: await ctx.waitForSignal<number>("go") }));
  const kidForever = defineWorkflow(KID_FOREVER, async (ctx) => ({ got: await ctx.waitForSignal<number>("never") }));
  const parent = defineWorkflow(PARENT, async (ctx, input: { n: number }) => {
    const [a, b, c] = await Promise.all([
      ctx.child(kidStep, { n: input.n }, { id: `${ctx.executionId}-k0` }),
      ctx.child(kidStep, { n: input.n + 1 }, { id: `${ctx.executionId}-k1` }),
      ctx.child(kidSignal, {}, { id: `${ctx.executionId}-k2` }),
    ]);
    return { a: a.v, b: b.v, c: c.got };
  });
  const canceledParent = defineWorkflow(CANCELED_PARENT, async (ctx) => {
    await Promise.all([ctx.child(kidForever, {}, { id: `${ctx.executionId}-k0` }), ctx.child(kidForever, {}, { id: `${ctx.executionId}-k1` })]);
    return { ended: "the children ended, which they never do on their own" };
  });

  const parents = Array.from({ length: options.parents }, (_, n) => ({ id: `parent-${n}`, n: 100 + n }));
  const canceled = Array.from({ length: options.canceledParents }, (_, i) => `parent-canceled-${i}`);
  const kidsOf = (id: string, count: number) => Array.from({ length: count }, (_, k) => `${id}-k${k}`);
  /** Children of canceled parents that existed when the cancel was sent (only those must end canceled). */
  const seenKids = new Set<string>();
  /** Children the scenario waited for in vain. */
  const neverAppeared = new Set<string>();

  return {
    name: "children",
    workflows: [parent, canceledParent, kidStep, kidSignal, kidForever],
    executions: () => [...parents.flatMap(({ id }) => [id, ...kidsOf(id, 3)]), ...canceled, ...seenKids],
    engineFailures: () => [],

    async start({ api }: DriveContext) {
      await inBatches(parents, 10, ({ id, n }) => api.start(PARENT, id, { n }));
      await inBatches(canceled, 10, (id) => api.start(CANCELED_PARENT, id, {}));
    },

    async drive({ api, random, reader, bounds }: DriveContext) {
      await Promise.all([
        inBatches(parents, parents.length, async ({ id, n }) => {
          await sleep(Math.floor(random() * 500));
          if (!(await api.signalOnceItExists(`${id}-k2`, "go", n * 3, bounds.appearMs))) neverAppeared.add(`${id}-k2`);
        }),
        inBatches(canceled, canceled.length, async (id) => {
          const kids = kidsOf(id, 2);
          await until(async () => (await Promise.all(kids.map((k) => reader.getExecution(k)))).every((r) => r !== undefined), bounds.appearMs, 200);
          for (const k of kids) {
            if (await reader.getExecution(k)) seenKids.add(k);
            else neverAppeared.add(k);
          }
          await sleep(Math.floor(random() * 800));
          await api.cancel(id, "the scenario canceled the parent");
        }),
      ]);
    },

    check({ observed, bounds }: CheckContext, v: Report) {
      for (const kid of neverAppeared) v(kid.slice(0, kid.lastIndexOf("-")), `its child ${kid} did not appear within ${bounds.appearMs} ms`);
      for (const { id, n } of parents) {
        const record = observed.get(id)?.record;
        if (expectStatus(id, record, "completed", v) && record) {
          const expected = { a: n * 7, b: (n + 1) * 7, c: n * 3 };
          if (JSON.stringify(record.output) !== JSON.stringify(expected)) v(id, `output ${JSON.stringify(record.output)}, expected ${JSON.stringify(expected)}`);
        }
        for (const kid of kidsOf(id, 3)) expectStatus(kid, observed.get(kid)?.record, "completed", v);
      }
      for (const id of canceled) {
        expectStatus(id, observed.get(id)?.record, "canceled", v);
        for (const kid of kidsOf(id, 2)) if (seenKids.has(kid)) expectStatus(kid, observed.get(kid)?.record, "canceled", v);
      }
    },

    summary({ observed }: CheckContext) {
      const kids = [...seenKids];
      return (
        `${parents.length} parents of 3 (${countStatus(observed, parents.map((p) => p.id), "completed")} completed), ` +
        `${canceled.length} canceled with their children (${countStatus(observed, canceled, "canceled")} canceled; children ${countStatus(observed, kids, "canceled")}/${kids.length} canceled)`
      );
    },
  };
}
