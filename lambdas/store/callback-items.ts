/**
 * The callback item: `EXEC#<id> | CB#<callbackId>`, written with the CallbackStarted event and
 * marked ended with the event that ends the callback. The API checks a completion or a heartbeat
 * against it (callbacks.ts); both stores build their writes here, so they keep one shape.
 *
 *   callbackId, run, position, name   what the token must match
 *   startedAtMs, deadlineAtMs?        deadlineAtMs: no completion is accepted after it
 *   heartbeatTimeoutMs?, heartbeatDeadlineAtMs?   moved on by each heartbeat
 *   endedAs?, endedAtMs?              "completed" | "failed" | "timed-out"
 */
import type { CallbackStarted, HistoryEvent, InboxEvent } from "../core/events.js";
import type { CallbackOutcome } from "../ports/store.js";
import { isCallbackEvent } from "../core/events.js";
import type { CallbackRef } from "../core/callbacks.js";
import { CallbackEndedError, CallbackExpiredError, CallbackNotFoundError } from "./errors.js";
import { callbackSk, executionPk } from "./keys.js";

export type CallbackEnd = "completed" | "failed" | "timed-out";

export type CallbackWrite = { kind: "put"; item: Record<string, unknown> } | { kind: "end"; sk: string; endedAs: CallbackEnd; atMs: number };

export function callbackItem(executionId: string, event: HistoryEvent & CallbackStarted): Record<string, unknown> {
  return {
    PK: executionPk(executionId),
    SK: callbackSk(event.callbackId),
    callbackId: event.callbackId,
    run: event.run,
    position: event.position,
    name: event.name,
    startedAtMs: event.atMs,
    // Retention removes an execution's items written before its end (purge.ts): this one too.
    atMs: event.atMs,
    ...(event.deadlineAtMs === undefined ? {} : { deadlineAtMs: event.deadlineAtMs }),
    ...(event.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: event.heartbeatTimeoutMs, heartbeatDeadlineAtMs: event.atMs + event.heartbeatTimeoutMs }),
  };
}

/**
 * What `events` do to callback items, one write per item (a transaction may touch an item once):
 * a callback started and ended in the same events is put ended.
 */
export function callbackWrites(executionId: string, events: readonly HistoryEvent[]): CallbackWrite[] {
  const writes = new Map<string, CallbackWrite>();
  for (const event of events) {
    if (!isCallbackEvent(event)) continue;
    const sk = callbackSk(event.callbackId);
    if (event.type === "CallbackStarted") {
      writes.set(sk, { kind: "put", item: callbackItem(executionId, event as HistoryEvent & CallbackStarted) });
      continue;
    }
    const endedAs: CallbackEnd = event.type === "CallbackCompleted" ? "completed" : event.type === "CallbackFailed" ? "failed" : "timed-out";
    const started = writes.get(sk);
    if (started?.kind === "put") started.item = { ...started.item, endedAs, endedAtMs: event.atMs };
    else writes.set(sk, { kind: "end", sk, endedAs, atMs: event.atMs });
  }
  return [...writes.values()];
}

/** Why a callback item refused an answer or a heartbeat, from what it held. */
export function callbackRefusal(item: Record<string, unknown> | undefined, ref: CallbackRef, nowMs: number): Error | undefined {
  if (!item || item.run !== ref.run || item.position !== ref.position || item.callbackId !== ref.callbackId) return new CallbackNotFoundError();
  if (item.endedAs === "timed-out") return new CallbackExpiredError(item.deadlineAtMs !== undefined && Number(item.deadlineAtMs) <= Number(item.endedAtMs ?? nowMs) ? "timeout" : "heartbeat");
  if (item.endedAs !== undefined) return new CallbackEndedError(String(item.endedAs));
  if (item.deadlineAtMs !== undefined && Number(item.deadlineAtMs) < nowMs) return new CallbackExpiredError("timeout");
  if (item.heartbeatDeadlineAtMs !== undefined && Number(item.heartbeatDeadlineAtMs) < nowMs) return new CallbackExpiredError("heartbeat");
  return undefined;
}

/** The inbox event an accepted answer becomes. */
export function callbackResultEvent(ref: CallbackRef, outcome: CallbackOutcome): InboxEvent {
  return {
    type: "CallbackResult",
    run: ref.run,
    position: ref.position,
    callbackId: ref.callbackId,
    ok: outcome.ok,
    ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
  };
}
