/**
 * The original mix: a workflow of steps, a flaky step, a sleep and two signals; executions of it
 * whose last step fails for good; executions of a version this deployment lacks (only engine
 * retries can end them: failed, dead-lettered); and a storm of signals from several senders to
 * one running execution.
 */
import { NonRetryableError } from "../../../lambdas/core/errors.js";
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import type { FaultInjector, Stamped } from "../../support/faults.js";
import { sleep } from "../api-client.js";
import { checkSignalsOnce, expectStatus, MAX_ATTEMPTS, stepResults } from "../invariants.js";
import { type CheckContext, countStatus, type DriveContext, type Report, type ScenarioPart } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface CoreOptions {
  /** Executions of the main workflow that must complete. */
  flows: number;
  /** Executions whose last step fails for good: they must end `failed`, through history. */
  doomed: number;
  /** Executions of a version the workers lack: engine retries must fail them and dead-letter them. */
  unregistered: number;
  storm: { senders: number; perSender: number };
}

const FLOW = "fault-flow";
const STORM = "fault-storm";

interface FlowInput {
  n: number;
  signals: number;
  doomed?: boolean;
}
interface FlowOutput {
  a: Stamped<number>;
  b: Stamped<number>;
  c: Stamped<number>;
  d: Stamped<number>;
  got: number[];
}
interface StormSignal {
  s: number;
  i: number;
}

export function corePart(faults: FaultInjector, options: CoreOptions): ScenarioPart {
  const flow = defineWorkflow(FLOW, async (ctx, input: FlowInput): Promise<FlowOutput> => {
    const a = await ctx.step("a", (info) => faults.step(info, () => input.n + 1));
    const [b, c] = await Promise.all([
      ctx.step("b", (info) => faults.step(info, () => input.n * 2)),
      ctx.step(
        "c",
        (info) =>
          faults.step(info, () => {
            if (info.attempt === 1 && input.n % 3 === 0) throw new Error("flaky first attempt");
            return input.n * 3;
          }),
        { retry: { maxAttempts: MAX_ATTEMPTS, initialInterval: 100 } },
      ),
    ]);
    await ctx.sleep("nap", 1_000);
    const got: number[] = [];
    for (let i = 0; i < input.signals; i += 1) got.push(await ctx.waitForSignal<number>("tick"));
    const d = await ctx.step("d", (info) => faults.step(info, () => got.reduce((x, y) => x + y, 0)));
    if (input.doomed) {
      await ctx.step("doomed", (info) =>
        faults.step(info, () => {
          throw new NonRetryableError("this step is meant to fail");
        }),
      );
    }
    return { a, b, c, d, got };
  });
  const storm = defineWorkflow(STORM, async (ctx, input: { total: number }) => {
    const got: StormSignal[] = [];
    for (let k = 0; k < input.total; k += 1) {
      got.push(await ctx.waitForSignal<StormSignal>("storm"));
      if (k % 5 === 4) await ctx.step("tally", (info) => faults.step(info, () => got.length));
    }
    return { got };
  });

  const flows = Array.from({ length: options.flows }, (_, n) => ({ id: `flow-${n}`, n }));
  const doomed = Array.from({ length: options.doomed }, (_, i) => ({ id: `doomed-${i}`, n: 1_000 + i }));
  const unregistered = Array.from({ length: options.unregistered }, (_, i) => `unregistered-${i}`);
  const stormTotal = options.storm.senders * options.storm.perSender;
  const hasStorm = stormTotal > 0;

  return {
    name: "core",
    workflows: [flow, storm],
    executions: () => [...flows.map((f) => f.id), ...doomed.map((d) => d.id), ...unregistered, ...(hasStorm ? ["storm"] : [])],
    engineFailures: () => unregistered,

    async start({ api }: DriveContext) {
      await inBatches(flows, 25, ({ id, n }) => api.start(FLOW, id, { n, signals: 2 } satisfies FlowInput));
      await inBatches(doomed, 25, ({ id, n }) => api.start(FLOW, id, { n, signals: 0, doomed: true } satisfies FlowInput));
      // Version 2 was never deployed: every turn fails until the engine gives up.
      await inBatches(unregistered, 25, (id) => api.startUnregistered(FLOW, id, 2, { n: 0, signals: 0 }));
      if (hasStorm) await api.start(STORM, "storm", { total: stormTotal });
    },

    // Two signals per flow, sent one after the other; a storm from several senders.
    async drive({ api, random }: DriveContext) {
      const delays = flows.map(() => [Math.floor(random() * 1_500), Math.floor(random() * 800)] as const);
      await Promise.all([
        inBatches(flows, 50, async ({ id, n }, index) => {
          const [first, second] = delays[index] as readonly [number, number];
          await sleep(first);
          await api.signal(id, "tick", n * 10);
          await sleep(second);
          await api.signal(id, "tick", n * 10 + 1);
        }),
        Promise.all(
          Array.from({ length: options.storm.senders }, async (_, s) => {
            for (let i = 0; i < options.storm.perSender; i += 1) await api.signal("storm", "storm", { s, i } satisfies StormSignal);
          }),
        ),
      ]);
    },

    check({ observed, api }: CheckContext, v: Report) {
      for (const { id, n } of flows) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        const out = record.output as FlowOutput;
        const signals = api.signals.get(id) ?? [];
        const expected = { a: n + 1, b: n * 2, c: n * 3, got: signals.map((s) => s.payload), d: n * 20 + 1 };
        const actual = { a: out.a?.v, b: out.b?.v, c: out.c?.v, got: out.got, d: out.d?.v };
        if (JSON.stringify(actual) !== JSON.stringify(expected)) v(id, `output ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
        const recorded = new Map(stepResults(history).map((e) => [e.name, (e.result as Stamped<unknown> | undefined)?.run]));
        for (const name of ["a", "b", "c", "d"] as const) {
          if (out[name]?.run !== recorded.get(name)) v(id, `output of step ${name} came from ${out[name]?.run}, history recorded ${recorded.get(name)}`);
        }
        checkSignalsOnce(id, history, signals, v);
        const flaky = history.filter((e) => e.type === "StepAttemptFailed").length;
        if (flaky !== (n % 3 === 0 ? 1 : 0)) v(id, `${flaky} failed attempts of step c, expected ${n % 3 === 0 ? 1 : 0}`);
      }

      for (const { id } of doomed) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        expectStatus(id, record, "failed", v, "STEP_FAILED");
        if (!history.some((e) => e.type === "StepFailed" && e.name === "doomed")) v(id, "no StepFailed for the doomed step");
      }

      for (const id of unregistered) expectStatus(id, observed.get(id)?.record, "failed", v, "ENGINE_RETRIES_EXHAUSTED");

      if (hasStorm) {
        const { record, history } = observed.get("storm") ?? { record: undefined, history: [] };
        const signals = api.signals.get("storm") ?? [];
        if (expectStatus("storm", record, "completed", v) && record) {
          const got = (record.output as { got: StormSignal[] }).got;
          checkSignalsOnce("storm", history, signals, v, { ordered: false });
          const keys = got.map((g) => `${g.s}/${g.i}`);
          if (new Set(keys).size !== stormTotal || keys.length !== stormTotal) v("storm", `got ${keys.length} signals (${new Set(keys).size} distinct), sent ${stormTotal}`);
          for (let s = 0; s < options.storm.senders; s += 1) {
            const order = got.filter((g) => g.s === s).map((g) => g.i);
            if (order.some((i, k) => k > 0 && i <= (order[k - 1] as number))) v("storm", `sender ${s}'s signals consumed out of order: ${order.join(",")}`);
          }
        }
      }
    },

    summary({ observed, api }: CheckContext) {
      const fellBack = unregistered.filter((id) => {
        const history = observed.get(id)?.history ?? [];
        return history[history.length - 1]?.type !== "ExecutionFailed"; // failed by the conditional status update
      }).length;
      const signals = [...flows.map((f) => f.id), "storm"].reduce((n, id) => n + (api.signals.get(id)?.length ?? 0), 0);
      return (
        `${flows.length} flows (${countStatus(observed, flows.map((f) => f.id), "completed")} completed), ` +
        `meant to fail: ${doomed.length} by a step, ${unregistered.length} by engine retries → DLQ${fellBack > 0 ? `, ${fellBack} via the status-update fallback` : ""}; ` +
        `${signals} signals (storm: ${stormTotal} from ${options.storm.senders} senders)`
      );
    },
  };
}
