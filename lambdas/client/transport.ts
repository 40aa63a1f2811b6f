/**
 * One API call over fetch: the URL (base + encoded path + query), JSON in, authorization, the
 * answer checked and turned into a value or a typed error, and the retries of `retry.ts`.
 */
import type { z } from "zod";
import { type Answer, errorFromAnswer, parseSuccess } from "./answers.js";
import type { Authorizer } from "./auth.js";
import { InvalidArgumentError, NetworkError } from "./errors.js";
import { isRetried, retryDelayMs, type RetryPolicy, sleep } from "./retry.js";

export interface ApiRequest {
  method: "GET" | "POST";
  /** Segments already encoded with `pathSegment()`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Sent as JSON when defined; no body otherwise. */
  body?: unknown;
  signal?: AbortSignal;
}

export interface TransportOptions {
  baseUrl: URL;
  authorize: Authorizer;
  retry: RetryPolicy;
  fetch: typeof fetch;
}

/** The answer's status (201 and 200 differ for a start) and its checked body. */
export interface Success<T> {
  status: number;
  body: T;
}

/**
 * How a 2xx answer becomes a value: its JSON checked against a schema, or, for a route whose body
 * is not JSON (a value's part), a function of the whole answer that throws when it is not what
 * the route returns.
 */
export type SuccessReader<T> = z.ZodType<T> | ((answer: Answer) => T);

export type Transport = <T>(request: ApiRequest, reader: SuccessReader<T>) => Promise<Success<T>>;

const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

export function createTransport(options: TransportOptions): Transport {
  const base = options.baseUrl.href.replace(/\/+$/, "");

  const once = async <T>(request: ApiRequest, reader: SuccessReader<T>): Promise<Success<T>> => {
    const url = new URL(`${base}${request.path}${queryString(request.query)}`);
    const body = request.body === undefined ? undefined : toJson(request.body);
    const headers = await options.authorize({
      method: request.method,
      url,
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body }),
    });
    const shownUrl = `${url.origin}${url.pathname}`;
    let status: number;
    let responseHeaders: Headers;
    let text: string;
    try {
      const response = await options.fetch(url, {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
      status = response.status;
      responseHeaders = response.headers;
      // Not response.text(): it drops a byte order mark at the start, which a value's part may begin with.
      text = UTF8.decode(await response.arrayBuffer());
    } catch (err) {
      // An abort is the caller's decision, not a network failure: give back its reason, as fetch does.
      if (request.signal?.aborted) throw request.signal.reason;
      throw new NetworkError(request.method, shownUrl, err);
    }
    const answer: Answer = { method: request.method, url: shownUrl, status, headers: responseHeaders, text };
    if (status < 200 || status > 299) throw errorFromAnswer(answer);
    return { status, body: typeof reader === "function" ? reader(answer) : parseSuccess(answer, reader) };
  };

  return async (request, reader) => {
    for (let retry = 0; ; retry += 1) {
      try {
        return await once(request, reader);
      } catch (err) {
        if (!isRetried(err) || retry >= options.retry.maxRetries) throw err;
        await sleep(retryDelayMs(retry, options.retry), request.signal);
      }
    }
  };
}

/**
 * An id or a signal name as one path segment. Encoded, so `a/b` cannot reach another route (the
 * API refuses the `%2F`). Refused before sending: an empty value (`GET /executions/` would list
 * executions) and one of dots only (URL parsing resolves `..` and `%2E%2E` alike to the parent
 * path; the API takes no such id, and a signal of such a name could not reach its route).
 */
export function pathSegment(value: string, what: string): string {
  if (typeof value !== "string" || value === "" || /^\.+$/.test(value)) {
    throw new InvalidArgumentError(`${what} must be a non-empty string that is not only dots, got ${JSON.stringify(value)}`);
  }
  return encodeRfc3986(value);
}

function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new InvalidArgumentError(`the request body must be JSON-serialisable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function queryString(query: ApiRequest["query"]): string {
  const pairs = Object.entries(query ?? {}).flatMap(([name, value]) => (value === undefined ? [] : [`${encodeRfc3986(name)}=${encodeRfc3986(String(value))}`]));
  return pairs.length === 0 ? "" : `?${pairs.join("&")}`;
}

/** encodeURIComponent plus `!'()*`: the escaping SigV4's canonical request uses, so what is sent is what is signed. */
function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
