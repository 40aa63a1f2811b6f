/**
 * `durable watch`: reads an execution and the history it has added, again and again, until it
 * ends. History is read on from the start of its last page (the API gives no cursor past the
 * end), so a long history is not read again at every look. Looks come 200 ms apart while things
 * happen, backing off to 1 s while nothing does. Each look reads the execution with its large
 * values left in `valueRefs`: a 50 MB input is not downloaded again at every look.
 */
import type { DurableClient } from "../../../lambdas/client/client.js";
import { ApiError, ResultTimeoutError } from "../../../lambdas/client/errors.js";
import type { ExecutionWithRefs, HistoryEventView } from "../../../lambdas/client/types.js";
import { isTerminal } from "../../../lambdas/core/status.js";

export interface FollowOptions {
  /** Give up with a ResultTimeoutError after this long (the execution goes on). */
  timeoutMs?: number;
  /** Longest pause between two looks. Default 1 000 ms. */
  maxPauseMs?: number;
  onExecution(execution: ExecutionWithRefs): void;
  /** Every event, oldest first, each once. */
  onEvent(event: HistoryEventView): void;
  /** Between looks (an elapsed-time display can tick). */
  onPause?(): void;
}

const MIN_PAUSE_MS = 200;
const HISTORY_PAGE = 100;
const ENDING_EVENTS = new Set(["ExecutionCompleted", "ExecutionFailed", "ExecutionCanceled", "ExecutionTerminated"]);

/** Follows until the execution has ended; resolves with its last read (large values named in `valueRefs`). */
export async function followExecution(client: DurableClient, id: string, options: FollowOptions): Promise<ExecutionWithRefs> {
  const maxPauseMs = options.maxPauseMs ?? 1_000;
  const deadline = options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs;
  let lastSeq = 0;
  let pageCursor: string | undefined;

  /** Whether the events read last include the execution's end (its view may still be older). */
  let sawEnd = false;
  const readNewEvents = async (): Promise<number> => {
    let fresh = 0;
    sawEnd = false;
    for (;;) {
      let page;
      try {
        page = await client.history(id, { limit: HISTORY_PAGE, ...(pageCursor === undefined ? {} : { cursor: pageCursor }) });
      } catch (error) {
        // A cursor of another API instance (no shared cursor secret): read again from the start.
        if (error instanceof ApiError && error.code === "INVALID_CURSOR" && pageCursor !== undefined) {
          pageCursor = undefined;
          continue;
        }
        throw error;
      }
      for (const event of page.events) {
        if (event.seq <= lastSeq) continue;
        lastSeq = event.seq;
        fresh += 1;
        if (ENDING_EVENTS.has(event.type)) sawEnd = true;
        options.onEvent(event);
      }
      if (page.cursor === undefined) return fresh;
      pageCursor = page.cursor;
    }
  };

  let pauseMs = MIN_PAUSE_MS;
  let lastStatus: string | undefined;
  let hurried = false;
  for (;;) {
    // The execution before its history: once it reads as ended, the history read after has the end.
    const execution = await client.get(id, { values: "refs" });
    options.onExecution(execution);
    const fresh = await readNewEvents();
    if (isTerminal(execution.status)) return execution;
    // History has the end already: read the execution again at once (once), for its final view.
    if (sawEnd && !hurried) {
      hurried = true;
      continue;
    }
    if (deadline !== undefined && Date.now() >= deadline) throw new ResultTimeoutError(id, options.timeoutMs ?? 0, execution.status);
    pauseMs = fresh > 0 || execution.status !== lastStatus ? MIN_PAUSE_MS : Math.min(maxPauseMs, pauseMs * 2);
    lastStatus = execution.status;
    options.onPause?.();
    await new Promise((resolve) => setTimeout(resolve, deadline === undefined ? pauseMs : Math.max(0, Math.min(pauseMs, deadline - Date.now()))));
  }
}
