/**
 * The scenario's client of the API: calls the engine functions the API handler calls
 * (lambdas/engine/executions.ts) on a stack's API deps, each call inside the injector's API scope,
 * and behaves like a careful client: a call refused with STORE_BUSY (the API's 503) is retried
 * after a backoff, and a signal or cancel counts as sent only once a call succeeded. It records
 * what was accepted, and when, by the real clock and by the API's clock, for the checks.
 */
import { DurableError } from "../../lambdas/core/errors.js";
import { cancelExecution, sendSignal, startExecution, type ApiDeps } from "../../lambdas/engine/executions.js";
import type { FaultInjector } from "../support/faults.js";

/** When a call ran: the acceptance happened somewhere in between. */
export interface CallTime {
  realBeforeMs: number;
  realAfterMs: number;
  /** The API's clock, whose stamp the store wrote (the inbox item's arrival time). */
  apiBeforeMs: number;
  apiAfterMs: number;
}

export interface AcceptedSignal extends CallTime {
  executionId: string;
  name: string;
  signalId: string;
  payload: unknown;
}

export type CancelOutcome = (CallTime & { accepted: true }) | (CallTime & { accepted: false; status: string });

/** Tries per call before the scenario gives up on the API (a rate of injected throttling far above ours). */
const MAX_TRIES = 12;
/** What the API answers when a call may succeed later: 503 and 429. */
const RETRY_LATER = new Set(["STORE_BUSY", "INBOX_FULL"]);

export class ScenarioApi {
  /** Accepted signals by execution, in the order the API accepted them. */
  readonly signals = new Map<string, AcceptedSignal[]>();
  /** Cancel requests by execution, accepted or refused because the execution had ended. */
  readonly cancels = new Map<string, CancelOutcome[]>();
  /** Calls refused with STORE_BUSY or INBOX_FULL and tried again. */
  busyRetries = 0;
  /**
   * Signals refused with EXECUTION_ENDED although the execution had not ended: the API's answer
   * when the execution did not exist at the write and did by the read after it (a child being
   * started). Tried again like a not-found; counted, since a client could not tell.
   */
  endedButRunning = 0;

  constructor(
    private readonly deps: ApiDeps,
    private readonly faults: FaultInjector,
  ) {}

  async start(workflow: string, id: string, input: unknown): Promise<void> {
    await this.call(() => startExecution(this.deps, { workflow, id, input }));
  }

  /** An execution of a version this deployment lacks: written as the API would, then woken. */
  async startUnregistered(workflow: string, id: string, version: number, input: unknown): Promise<void> {
    await this.call(async () => {
      await this.deps.store.createExecution({ id, workflow, version, input, nowMs: this.deps.clock() });
      await this.deps.scheduler.wakeNow([id]).catch(() => undefined); // as the API does: the sweeper covers a lost send
    });
  }

  /** Sends a signal until the API accepts it. */
  async signal(executionId: string, name: string, payload: unknown): Promise<AcceptedSignal> {
    const time = this.timeStart();
    const { signalId } = await this.call(() => sendSignal(this.deps, executionId, name, payload));
    const accepted: AcceptedSignal = { ...this.timeEnd(time), executionId, name, signalId, payload };
    const list = this.signals.get(executionId) ?? [];
    list.push(accepted);
    this.signals.set(executionId, list);
    return accepted;
  }

  /**
   * Signals an execution that may not exist yet (a child its parent has not started): tries
   * again while it is not found, for up to `withinMs`. Undefined if it never appeared.
   */
  async signalOnceItExists(executionId: string, name: string, payload: unknown, withinMs: number): Promise<AcceptedSignal | undefined> {
    const giveUpAtMs = Date.now() + withinMs;
    for (;;) {
      try {
        return await this.signal(executionId, name, payload);
      } catch (err) {
        const notYet = codeOf(err) === "EXECUTION_NOT_FOUND" || (codeOf(err) === "EXECUTION_ENDED" && !isEndedStatus(err));
        if (!notYet) throw err;
        if (Date.now() > giveUpAtMs) return undefined;
        if (codeOf(err) === "EXECUTION_ENDED") this.endedButRunning += 1;
        await sleep(100);
      }
    }
  }

  /** Asks to cancel; an execution that has already ended refuses (EXECUTION_ENDED), which is recorded too. */
  async cancel(executionId: string, reason?: string): Promise<CancelOutcome> {
    const time = this.timeStart();
    let outcome: CancelOutcome;
    try {
      await this.call(() => cancelExecution(this.deps, executionId, reason));
      outcome = { ...this.timeEnd(time), accepted: true };
    } catch (err) {
      if (codeOf(err) !== "EXECUTION_ENDED") throw err;
      const status = err instanceof DurableError ? String(err.details.status) : "ended";
      outcome = { ...this.timeEnd(time), accepted: false, status };
    }
    const list = this.cancels.get(executionId) ?? [];
    list.push(outcome);
    this.cancels.set(executionId, list);
    return outcome;
  }

  /** The accepted cancel of an execution, if any (the scenario sends at most one per execution). */
  acceptedCancel(executionId: string): (CallTime & { accepted: true }) | undefined {
    return this.cancels.get(executionId)?.find((c): c is CallTime & { accepted: true } => c.accepted);
  }

  private timeStart(): { realBeforeMs: number; apiBeforeMs: number } {
    return { realBeforeMs: Date.now(), apiBeforeMs: this.deps.clock() };
  }

  private timeEnd(start: { realBeforeMs: number; apiBeforeMs: number }): CallTime {
    return { ...start, realAfterMs: Date.now(), apiAfterMs: this.deps.clock() };
  }

  /**
   * One client call: retried while the API answers STORE_BUSY (a 503) or INBOX_FULL (a 429, until
   * the workflow has taken its inbox in), as a client retries them.
   */
  private async call<T>(request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.faults.apiCall(request);
      } catch (err) {
        if (!RETRY_LATER.has(codeOf(err) ?? "") || attempt >= MAX_TRIES) throw err;
        this.busyRetries += 1;
        await sleep(Math.min(1_000, 20 * 2 ** attempt));
      }
    }
  }
}

function isEndedStatus(err: unknown): boolean {
  const status = err instanceof DurableError ? err.details.status : undefined;
  return status === "completed" || status === "failed" || status === "canceled";
}

function codeOf(err: unknown): string | undefined {
  return err instanceof DurableError ? err.code : undefined;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
