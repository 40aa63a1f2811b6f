/**
 * The API Lambda (API Gateway HTTP API, payload v2). Parses and validates the request, calls one
 * engine function, shapes the answer. The local stack serves this same handler over HTTP.
 * docs/api.md describes every route, with examples and error codes.
 *
 *   POST /executions                       start (idempotent on a client-given id)
 *   GET  /executions                       list, newest first (?workflow=&status=&tag.<key>=<value>&cursor=&limit=)
 *   GET  /executions/{id}                  one execution
 *   GET  /executions/{id}/history          its history, paged (?cursor=&limit=)
 *   POST /executions/{id}/signals/{name}   send a signal (JSON body = payload)
 *   POST /executions/{id}/cancel           ask it to cancel ({ "reason"?: string })
 *   POST /executions/{id}/terminate        end it at once, no cleanup ({ "reason"?: string })
 *   POST /executions/{id}/redrive          resume a failed execution where it failed ({ "reason"?: string })
 *   POST /callbacks/{token}                complete a callback (JSON body = its result)
 *   POST /callbacks/{token}/fail           fail it ({ "message"?, "code"?, "details"? })
 *   POST /callbacks/{token}/heartbeat      tell it the work goes on (moves its heartbeat deadline)
 *   POST /bulk                             cancel, terminate or redrive every execution a filter matches (a job)
 *   GET  /workflows                        registered workflows and versions
 *
 * Order of checks: bearer token (401) → route (404) → method (405) → content type (415) → body
 * size (413) → JSON and schema (400) → the engine. Everything before the engine writes nothing,
 * and the engine's writes are conditional, so a refused request leaves the table as it was.
 */
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { z } from "zod";
import { decodeCallbackToken } from "../core/callbacks.js";
import { EXECUTION_STATUSES, type ExecutionStatus } from "../core/status.js";
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow.js";
import {
  answerCallback,
  type ApiDeps,
  cancelExecution,
  getExecution,
  getHistory,
  heartbeatCallback,
  listExecutions,
  redriveExecution,
  sendSignal,
  startExecution,
  terminateExecution,
} from "../engine/executions.js";
import { createCursorCodec, type CursorCodec } from "../store/cursor.js";
import { cursorCodecFrom, secretsManagerReader } from "./cursor-keys.js";
import { BULK_WORKFLOW, startBulk } from "../engine/bulk.js";
import { readCursorSecret, readCursorSecretArn } from "./config.js";
import { createEngineDeps } from "./deps.js";
import { errorResponse, HttpError, json, parseWith, readJsonBody, requireBearer, truncate } from "./http.js";
import { withPowertools } from "./observability.js";
import { ATTR, contextFromTraceparent, inSpan, SpanKind } from "../engine/tracing.js";

export interface ApiOptions {
  /** When set, every request needs `Authorization: Bearer <token>` (the local stack). In AWS, IAM authorizes at API Gateway. */
  bearerToken?: string;
  /** Signs pagination cursors (DURABLE_CURSOR_SECRET); a per-process random secret when absent. */
  cursorSecret?: string;
  /** Gives the cursor codec of the keys in Secrets Manager (cursor-keys.ts); wins over `cursorSecret`. Read before a GET. */
  cursorCodec?: () => Promise<CursorCodec>;
  /** Where unexpected errors are reported (never sent to the client). */
  onError?: (err: unknown) => void;
  /** Receives one entry per request to a state-changing route, allowed or refused (the deployed API logs them). */
  audit?: (entry: AuditEntry) => void;
}

export type AuditAction = "start" | "signal" | "cancel" | "terminate" | "redrive" | "callback.complete" | "callback.fail" | "callback.heartbeat" | "bulk";

/** Who did what to which execution, and how it was answered. Never a payload, input or token. */
export interface AuditEntry {
  action: AuditAction;
  /** The execution acted on (for a start, the one created or found); absent when the request named none that could be read. */
  executionId?: string;
  /** The caller as API Gateway authorized it: an IAM ARN, or a JWT's issuer#subject. */
  principal?: string;
  status: number;
  /** The error code of a refusal. */
  code?: string;
  requestId?: string;
  sourceIp?: string;
}

/** An id a caller gives a new execution. `~` and `.` are kept for the ids the engine gives children. */
const START_ID = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1–128 characters of A–Z, a–z, 0–9, _ or - (~ and . are reserved for children's ids)");
/** An execution's id in a path: a caller's, or one the engine gave a child (`<parent>~<run>.<position>`). */
const ID = z.string().regex(/^(?!\.+$)[A-Za-z0-9_.~-]{1,256}$/, "must be 1–256 characters of A–Z, a–z, 0–9, _, -, ~ or .");
const SIGNAL_NAME = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1–128 characters of A–Z, a–z, 0–9, _ . : or -");
const WORKFLOW_NAME = z.string().min(1).max(128);
const STATUS = z.enum(EXECUTION_STATUSES as unknown as [ExecutionStatus, ...ExecutionStatus[]]);

/** A query-string limit: digits only (no "1e2", no " 5"), within 1..max. */
function limitParam(max: number) {
  return z
    .string()
    .regex(/^[0-9]{1,6}$/, `must be a whole number from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().min(1, `must be a whole number from 1 to ${max}`).max(max, `must be a whole number from 1 to ${max}`))
    .optional();
}

const StartBody = z
  .object({
    workflow: WORKFLOW_NAME,
    version: z.number().int().positive().optional(),
    input: z.unknown().optional(),
    id: START_ID.optional(),
    // Shapes only; the engine checks the rules (core/tags.ts), for every way of starting.
    tags: z.record(z.string(), z.string()).optional(),
    startAt: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with a time zone, like "2026-12-24T09:00:00Z"' }).optional(),
  })
  .strict();

const CancelBody = z.object({ reason: z.string().max(1024).optional() }).strict();

const BulkBody = z
  .object({
    action: z.enum(["cancel", "terminate", "redrive"]),
    filter: z
      .object({
        workflow: WORKFLOW_NAME.optional(),
        status: STATUS.optional(),
        tags: z.record(z.string(), z.string()).optional(),
        createdAfter: z.iso.datetime({ offset: true }).optional(),
        createdBefore: z.iso.datetime({ offset: true }).optional(),
      })
      .strict(),
    reason: z.string().max(1024).optional(),
    ratePerSecond: z.number().positive().max(100).optional(),
    id: START_ID.optional(),
  })
  .strict();

/** `POST /callbacks/{token}/fail`: what went wrong, as the external system says it. */
const CallbackFailBody = z
  .object({
    message: z.string().max(8_192).optional(),
    code: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/).optional(),
    details: z.unknown().optional(),
  })
  .strict();

const HistoryQuery = z
  .object({
    limit: limitParam(1000),
    cursor: z.string().optional(),
  })
  .strict();

const ListQuery = z
  .object({
    workflow: WORKFLOW_NAME.optional(),
    status: STATUS.optional(),
    limit: limitParam(100),
    cursor: z.string().optional(),
  })
  .strict();

type Route = (event: APIGatewayProxyEventV2, params: string[]) => Promise<APIGatewayProxyStructuredResultV2>;

export function createApiHandler(deps: ApiDeps, options: ApiOptions = {}) {
  const engine: ApiDeps = { ...deps, cursors: deps.cursors ?? createCursorCodec(options.cursorSecret) };

  /** `audit`: the action a state-changing route takes, logged for every request to it (see AuditEntry). */
  const routes: { method: string; pattern: RegExp; audit?: AuditAction; run: Route }[] = [
    {
      method: "POST",
      pattern: /^\/executions$/,
      audit: "start",
      run: async (event) => {
        const body = parseWith(StartBody, requireBody(event, 'a JSON object like {"workflow": "greet", "input": {...}}'), "body");
        const { created, execution } = await startExecution(engine, body);
        return json(created ? 201 : 200, execution, created ? { location: `/executions/${execution.id}` } : {});
      },
    },
    {
      method: "GET",
      pattern: /^\/executions$/,
      run: async (event) => {
        const { tags, rest } = splitTagParams(event.queryStringParameters ?? {});
        const query = parseWith(ListQuery, rest, "query");
        const page = await listExecutions(engine, { ...query, limit: query.limit ?? 20, ...(tags === undefined ? {} : { tags }) });
        return json(200, page);
      },
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)$/,
      run: async (_event, [id]) => json(200, await getExecution(engine, parseWith(ID, id, "execution id"))),
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)\/history$/,
      run: async (event, [id]) => {
        const executionId = parseWith(ID, id, "execution id");
        const query = parseWith(HistoryQuery, event.queryStringParameters ?? {}, "query");
        const page = await getHistory(engine, executionId, { limit: query.limit ?? 100, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
        return json(200, page);
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/signals\/([^/]+)$/,
      audit: "signal",
      run: async (event, [id, name]) => {
        const executionId = parseWith(ID, id, "execution id");
        const signalName = parseWith(SIGNAL_NAME, decodePathSegment(name ?? ""), "signal name");
        const payload = readJsonBody(event) ?? null;
        const { signalId } = await sendSignal(engine, executionId, signalName, payload);
        return json(202, { signalId });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/cancel$/,
      audit: "cancel",
      run: async (event, [id]) => {
        const executionId = parseWith(ID, id, "execution id");
        const body = parseWith(CancelBody, readJsonBody(event) ?? {}, "body");
        await cancelExecution(engine, executionId, body.reason);
        return json(202, { id: executionId, cancelRequested: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/terminate$/,
      audit: "terminate",
      run: async (event, [id]) => {
        const executionId = parseWith(ID, id, "execution id");
        await terminateExecution(engine, executionId, operatorRequest(event));
        return json(202, { id: executionId, terminated: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/redrive$/,
      audit: "redrive",
      run: async (event, [id]) => {
        const executionId = parseWith(ID, id, "execution id");
        const redriven = await redriveExecution(engine, executionId, operatorRequest(event));
        return json(202, redriven);
      },
    },
    {
      method: "POST",
      pattern: /^\/callbacks\/([^/]+)$/,
      audit: "callback.complete",
      run: async (event, [token]) => {
        const result = readJsonBody(event) ?? null;
        await answerCallback(engine, decodePathSegment(token ?? ""), { ok: true, result });
        return json(202, { accepted: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/callbacks\/([^/]+)\/fail$/,
      audit: "callback.fail",
      run: async (event, [token]) => {
        const body = parseWith(CallbackFailBody, readJsonBody(event) ?? {}, "body");
        const error = {
          name: "CallbackError",
          message: body.message ?? "the callback failed",
          ...(body.code === undefined ? {} : { code: body.code }),
          ...(body.details === undefined ? {} : { details: body.details as Record<string, unknown> }),
        };
        await answerCallback(engine, decodePathSegment(token ?? ""), { ok: false, error });
        return json(202, { accepted: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/callbacks\/([^/]+)\/heartbeat$/,
      audit: "callback.heartbeat",
      run: async (_event, [token]) => json(200, await heartbeatCallback(engine, decodePathSegment(token ?? ""))),
    },
    {
      method: "POST",
      pattern: /^\/bulk$/,
      audit: "bulk",
      run: async (event) => {
        const body = parseWith(BulkBody, requireBody(event, 'a JSON object like {"action": "cancel", "filter": {"workflow": "greet", "status": "sleeping"}}'), "body");
        const { createdAfter, createdBefore, ...filter } = body.filter;
        const by = callerOf(event);
        const job = await startBulk(engine, {
          action: body.action,
          filter: {
            ...filter,
            ...(createdAfter === undefined ? {} : { createdAfterMs: Date.parse(createdAfter) }),
            ...(createdBefore === undefined ? {} : { createdBeforeMs: Date.parse(createdBefore) }),
          },
          ...(body.reason === undefined ? {} : { reason: body.reason }),
          ...(body.ratePerSecond === undefined ? {} : { ratePerSecond: body.ratePerSecond }),
          ...(body.id === undefined ? {} : { id: body.id }),
          ...(by === undefined ? {} : { by }),
        });
        return json(job.created ? 202 : 200, { id: job.id, workflow: BULK_WORKFLOW }, { location: `/executions/${job.id}` });
      },
    },
    {
      method: "GET",
      pattern: /^\/workflows$/,
      run: async () => json(200, { workflows: engine.registry.list() }),
    },
  ];

  // One span per request, a child of the caller's `traceparent` when it sends one: a start keeps
  // it (engine/tracing.ts), so the execution's turns and steps join this trace.
  const handle = (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> =>
    inSpan(
      "durable.api",
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": event.requestContext.http.method, "url.path": truncate(event.rawPath, 512) },
        // Payload v2 headers arrive lower-cased (http.ts reads them the same way).
        parent: contextFromTraceparent(event.headers?.traceparent),
      },
      async (span) => {
        // Only reads page (lists, history): a Secrets Manager outage leaves starts and signals alone.
        if (options.cursorCodec && event.requestContext.http.method.toUpperCase() === "GET") {
          try {
            engine.cursors = await options.cursorCodec();
          } catch (err) {
            return answerFor(err);
          }
        }
        const response = await route(event, context, (name, value) => span.setAttribute(name, value));
        span.setAttribute("http.response.status_code", response.statusCode ?? 200);
        return response;
      },
    );

  const route = async (event: APIGatewayProxyEventV2, _context: Context, note: (name: string, value: string) => void): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      if (options.bearerToken !== undefined) requireBearer(event, options.bearerToken);
      const method = event.requestContext.http.method.toUpperCase();
      const path = event.rawPath.replace(/\/+$/, "") || "/";
      const matches = routes.flatMap((route) => {
        const params = route.pattern.exec(path);
        return params ? [{ route, params: params.slice(1) }] : [];
      });
      if (matches.length === 0) throw new HttpError(404, "ROUTE_NOT_FOUND", `no route for ${method} ${truncate(path, 200)}; see GET /workflows and docs/api.md`);
      const match = matches.find((m) => m.route.method === method);
      if (!match) {
        const allow = matches.map((m) => m.route.method).join(", ");
        throw new HttpError(405, "METHOD_NOT_ALLOWED", `${truncate(method, 20)} is not allowed on ${truncate(path, 200)}; allowed: ${allow}`, { allow });
      }
      note("http.route", `${match.route.method} ${routeTemplate(match.route.pattern)}`);
      if (path.startsWith("/executions/") && match.params[0] !== undefined) note(ATTR.executionId, truncate(match.params[0], 256));
      if (!match.route.audit) return await match.route.run(event, match.params);
      const response = await match.route.run(event, match.params).catch((err: unknown) => answerFor(err));
      options.audit?.(auditEntry(match.route.audit, event, match.params, response));
      return response;
    } catch (err) {
      return answerFor(err);
    }
  };
  const answerFor = (err: unknown): APIGatewayProxyStructuredResultV2 => {
    const { response, unexpected } = errorResponse(err);
    if (unexpected) options.onError?.(err);
    return response;
  };
  return middy(handle);
}

/** The deployed entry: `export const handler = apiHandlerFromEnv(workflows)`. */
export function apiHandlerFromEnv(workflows: readonly AnyWorkflow[]) {
  const deps = createEngineDeps(new WorkflowRegistry(workflows));
  const cursorSecret = readCursorSecret();
  const cursorSecretArn = readCursorSecretArn();
  return withPowertools(
    createApiHandler(deps, {
      ...(cursorSecret === undefined ? {} : { cursorSecret }),
      ...(cursorSecretArn ? { cursorCodec: cursorCodecFrom(secretsManagerReader(cursorSecretArn)) } : {}),
      onError: (err) => deps.logger?.error("unexpected error", { error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      audit: (entry) => deps.logger?.info("audit", { audit: entry }),
    }),
  );
}

/**
 * Who made the request, as API Gateway authorized it: the IAM caller's ARN, or a JWT's subject
 * (with its issuer). Undefined where nothing authorized it (the local stack's bearer token).
 */
function callerOf(event: APIGatewayProxyEventV2): string | undefined {
  const authorizer = (event.requestContext as { authorizer?: { iam?: { userArn?: string }; jwt?: { claims?: Record<string, unknown> } } }).authorizer;
  const arn = authorizer?.iam?.userArn;
  if (typeof arn === "string" && arn.length > 0) return truncate(arn, 512);
  const claims = authorizer?.jwt?.claims;
  if (claims && typeof claims.sub === "string") return truncate(typeof claims.iss === "string" ? `${claims.iss}#${claims.sub}` : claims.sub, 512);
  return undefined;
}

function auditEntry(action: AuditAction, event: APIGatewayProxyEventV2, params: string[], response: APIGatewayProxyStructuredResultV2): AuditEntry {
  const status = response.statusCode ?? 200;
  let answer: { id?: unknown; error?: { code?: unknown } } = {};
  try {
    answer = JSON.parse(typeof response.body === "string" ? response.body : "{}") as typeof answer;
  } catch {
    // not JSON: no id or code to take from it
  }
  const executionId =
    action === "start" || action === "bulk"
      ? typeof answer.id === "string" ? answer.id : undefined
      : action.startsWith("callback.")
        ? decodeCallbackToken(safeDecode(params[0] ?? ""))?.executionId
        : safeDecode(params[0] ?? "");
  const principal = callerOf(event);
  const code = status >= 400 && typeof answer.error?.code === "string" ? answer.error.code : undefined;
  return {
    action,
    ...(executionId ? { executionId: truncate(executionId, 256) } : {}),
    ...(principal === undefined ? {} : { principal }),
    status,
    ...(code === undefined ? {} : { code }),
    ...(event.requestContext.requestId ? { requestId: event.requestContext.requestId } : {}),
    ...(event.requestContext.http.sourceIp ? { sourceIp: event.requestContext.http.sourceIp } : {}),
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A route's path as a template: `/executions/{}/history`. */
function routeTemplate(pattern: RegExp): string {
  return pattern.source.replace(/^\^/, "").replace(/\$$/, "").replaceAll("([^/]+)", "{}").replaceAll("\\/", "/");
}

/** An operator action's `{ reason? }` body and who asked, as terminate and redrive take them. */
function operatorRequest(event: APIGatewayProxyEventV2): { reason?: string; by?: string } {
  const body = parseWith(CancelBody, readJsonBody(event) ?? {}, "body");
  const by = callerOf(event);
  return { ...(body.reason === undefined ? {} : { reason: body.reason }), ...(by === undefined ? {} : { by }) };
}

/** `tag.<key>=<value>` query parameters, apart from the others (the engine checks them as tags). */
function splitTagParams(params: Record<string, string | undefined>): { tags?: Record<string, string>; rest: Record<string, string | undefined> } {
  const tags: Record<string, string> = {};
  const rest: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name.startsWith("tag.")) tags[name.slice("tag.".length)] = value ?? "";
    else rest[name] = value;
  }
  return { ...(Object.keys(tags).length === 0 ? {} : { tags }), rest };
}

function requireBody(event: APIGatewayProxyEventV2, what: string): unknown {
  const body = readJsonBody(event);
  if (body === undefined) throw new HttpError(400, "INVALID_JSON", `the request body must be ${what}`);
  return body;
}

/** Path segments arrive percent-encoded; a malformed escape is the client's mistake, not a 500. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, "INVALID_INPUT", "the path holds a malformed %-escape");
  }
}
