/**
 * Callbacks: a durable call an external system completes through a token, without knowing the
 * execution id. The token names the execution, the run and the call's position, and carries the
 * callback's id: 128 random bits drawn when the call is first made and recorded in history
 * (CallbackStarted), so a replay hands out the same token. The store keeps a callback item under
 * that id; the API accepts a completion only if the item is there, matches the token, has not
 * ended and is not past its deadline. An id nobody was given cannot be guessed, so a token
 * cannot be forged; and since there is no signing key, there is none to distribute to workers or
 * to rotate.
 */
import { MAX_STORED_ID_CHARS } from "./tenants.js";
import { randomBytes } from "node:crypto";
import type { Duration } from "./duration.js";
import { DurableError, type ErrorInfo } from "./errors.js";

export interface CallbackOptions {
  /** The callback fails with CallbackTimeoutError (reason "timeout") if not completed within this. */
  timeout?: Duration;
  /**
   * It also fails (reason "heartbeat") when no heartbeat (`POST /callbacks/{token}/heartbeat`)
   * came for this long; the first period starts when the callback is created.
   */
  heartbeatTimeout?: Duration;
}

/** What `ctx.createCallback` returns: the token to hand out, and the result to wait for. */
export interface Callback<T> {
  /** Give it to the system that will answer: `POST /callbacks/{token}` completes the callback. */
  readonly token: string;
  /** Resolves with the JSON the completion carried; rejects with CallbackFailedError or CallbackTimeoutError. */
  readonly result: Promise<T>;
}

/** What a token names. */
export interface CallbackRef {
  executionId: string;
  run: number;
  position: number;
  callbackId: string;
}

const TOKEN_PREFIX = "dcb1.";
const ID_BYTES = 16;

/** A fresh callback id: 128 random bits, base64url. */
export function newCallbackId(): string {
  return randomBytes(ID_BYTES).toString("base64url");
}

export function encodeCallbackToken(ref: CallbackRef): string {
  return `${TOKEN_PREFIX}${Buffer.from(JSON.stringify([ref.executionId, ref.run, ref.position, ref.callbackId]), "utf8").toString("base64url")}`;
}

/** The reference a token carries; undefined for anything that is not a well-formed token. */
export function decodeCallbackToken(token: string): CallbackRef | undefined {
  if (typeof token !== "string" || !token.startsWith(TOKEN_PREFIX) || token.length > 1_024) return undefined;
  const body = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return undefined;
  const [executionId, run, position, callbackId] = parsed as unknown[];
  if (typeof executionId !== "string" || executionId.length === 0 || executionId.length > MAX_STORED_ID_CHARS) return undefined;
  if (!Number.isInteger(run) || (run as number) < 1 || !Number.isInteger(position) || (position as number) < 0) return undefined;
  if (typeof callbackId !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(callbackId)) return undefined;
  return { executionId, run: run as number, position: position as number, callbackId };
}

/** A token that is not one (`POST /callbacks/{token}` with something else in the path). */
export class InvalidCallbackTokenError extends DurableError {
  constructor() {
    super("INVALID_CALLBACK_TOKEN", "not a callback token: pass the token createCallback handed out, as it was given");
  }
}

/** The external system reported failure (`POST /callbacks/{token}/fail`): `failure` is what it sent. */
export class CallbackFailedError extends DurableError {
  readonly failure: ErrorInfo;

  constructor(callbackName: string, failure: ErrorInfo) {
    super("CALLBACK_FAILED", `callback "${callbackName}" failed: ${failure.message}`, { details: { callbackName, failure } });
    this.failure = failure;
  }
}

/** No completion came in time (`reason` "timeout"), or no heartbeat (`reason` "heartbeat"). */
export class CallbackTimeoutError extends DurableError {
  readonly reason: "timeout" | "heartbeat";

  constructor(callbackName: string, reason: "timeout" | "heartbeat") {
    super("CALLBACK_TIMED_OUT", reason === "timeout" ? `callback "${callbackName}" timed out` : `callback "${callbackName}" missed its heartbeat`, {
      details: { callbackName, reason },
    });
    this.reason = reason;
  }
}
