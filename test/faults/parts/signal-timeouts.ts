/**
 * A wait with a timeout, then one without: `waitForSignal("x", { timeout })`, and if it timed out
 * `waitForSignal("x")`, so a late signal is still consumed. The signal is sent either well before
 * the deadline (right after the start; the workflow sleeps first so the deadline is far enough
 * ahead) or well after it (once history shows the wait, when the API's clock is past its deadline
 * by more than the clocks' spread). The first wait gets the payload iff the API accepted the
 * signal before the deadline, compared by the API's stamp against the recorded deadline with a
 * margin of the clocks' spread (closer than that, either answer is right).
 */
import type { HistoryEvent } from "../../../lambdas/core/events.js";
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import { sleep } from "../api-client.js";
import { checkSignalsOnce, expectStatus } from "../invariants.js";
import { type CheckContext, type DriveContext, type Report, type ScenarioPart } from "../part.js";
import { inBatches } from "../plumbing.js";

export interface SignalTimeoutOptions {
  /** Executions whose signal is sent well before the deadline. */
  early: number;
  /** Executions whose signal is sent well after it. */
  late: number;
  timeoutMs?: number;
}

const WAIT = "fault-wait-timeout";

interface WaitInput {
  preMs: number;
  timeoutMs: number;
}
interface WaitOutput {
  first: number | null;
  timedOut: boolean;
  second: number | null;
}

/** How long the scenario waits for a wait to show up in history (the pre-sleep, and then some). */

/** No step bodies here (so no fault injector): the waits are what is tested. */
export function signalTimeoutsPart(options: SignalTimeoutOptions): ScenarioPart {
  const wait = defineWorkflow(WAIT, async (ctx, input: WaitInput): Promise<WaitOutput> => {
    await ctx.sleep("pre", input.preMs);
    const first = await ctx.waitForSignal<number>("x", { timeout: input.timeoutMs });
    const second = first === undefined ? await ctx.waitForSignal<number>("x") : null;
    return { first: first ?? null, timedOut: first === undefined, second };
  });
  // Just over a second: SQS delays are whole seconds, so the wake-up for the deadline is sent
  // with 2 s and arrives almost a second after it. A late signal often comes in that second.
  const timeoutMs = options.timeoutMs ?? 1_100;
  const early = Array.from({ length: options.early }, (_, i) => `wait-early-${i}`);
  const late = Array.from({ length: options.late }, (_, i) => `wait-late-${i}`);
  const all = [...early, ...late];
  /** Late ones whose wait never showed up, so no signal was sent. */
  const neverWaited = new Set<string>();

  return {
    name: "signal-timeouts",
    workflows: [wait],
    executions: () => all,
    engineFailures: () => [],

    async start({ api, bounds }: DriveContext) {
      // The deadline must be ahead of an early signal's stamp by more than the clocks' spread.
      const input: WaitInput = { preMs: 2 * bounds.spreadMs + 2_000, timeoutMs };
      await inBatches(all, 10, (id) => api.start(WAIT, id, input));
    },

    async drive({ api, random, reader, bounds, apiClock }: DriveContext) {
      const margin = bounds.spreadMs + 250;
      await Promise.all([
        inBatches(early, early.length, async (id, i) => {
          await sleep(Math.floor(random() * 300));
          await api.signal(id, "x", i);
        }),
        inBatches(late, late.length, async (id, i) => {
          const jitterMs = Math.floor(random() * 500);
          const until = Date.now() + bounds.appearMs;
          let deadline: number | undefined;
          while (deadline === undefined && Date.now() < until) {
            deadline = deadlineOf((await reader.readHistory(id)).events);
            if (deadline === undefined) await sleep(200);
          }
          if (deadline === undefined) {
            neverWaited.add(id);
            return;
          }
          await sleep(Math.max(0, deadline + margin + jitterMs - apiClock()));
          await api.signal(id, "x", 1_000 + i);
        }),
      ]);
    },

    check({ observed, api, bounds }: CheckContext, v: Report) {
      const margin = bounds.spreadMs + 250;
      for (const id of neverWaited) v(id, `no wait with a timeout in history within ${bounds.appearMs} ms, so the late signal was never sent`);
      for (const id of all) {
        const { record, history } = observed.get(id) ?? { record: undefined, history: [] };
        const sent = api.signals.get(id) ?? [];
        if (!expectStatus(id, record, "completed", v) || !record) continue;
        checkSignalsOnce(id, history, sent, v);
        const signal = sent[0];
        const deadline = deadlineOf(history);
        if (!signal || deadline === undefined) {
          v(id, `${signal ? "no wait with a deadline in history" : "no signal was sent"}`);
          continue;
        }
        const out = record.output as WaitOutput;
        const { payload } = signal;
        const before = signal.apiAfterMs < deadline - margin;
        const after = signal.apiBeforeMs > deadline + margin;
        const stamp = `accepted at ${signal.apiBeforeMs - deadline}..${signal.apiAfterMs - deadline} ms from the deadline by the API's clock`;
        if (before && (out.timedOut || out.first !== payload)) v(id, `signal ${stamp}, yet the wait with a timeout did not get it: ${JSON.stringify(out)}`);
        if (after && (!out.timedOut || out.second !== payload)) v(id, `signal ${stamp}, yet it satisfied the wait that had timed out: ${JSON.stringify(out)}`);
        if (!before && !after && (out.first === payload) === (out.second === payload)) v(id, `signal ${stamp}: neither wait (or both) got it: ${JSON.stringify(out)}`);
      }
    },

    summary({ observed }: CheckContext) {
      const timedOut = all.filter((id) => (observed.get(id)?.record?.output as WaitOutput | undefined)?.timedOut).length;
      return `${all.length} waits with a timeout (${early.length} signaled early, ${late.length} late; ${timedOut} timed out)`;
    },
  };
}

/** The deadline of the first wait for "x" with a timeout. */
function deadlineOf(history: readonly HistoryEvent[]): number | undefined {
  for (const e of history) if (e.type === "SignalWaitStarted" && e.name === "x" && e.deadlineAtMs !== undefined) return e.deadlineAtMs;
  return undefined;
}
