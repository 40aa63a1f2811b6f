/**
 * The API Lambda (API Gateway HTTP API, payload v2). Parses and validates the request, calls one
 * engine function, shapes the answer. The local stack serves this same handler over HTTP.
 * docs/api.md describes every route, with examples and error codes.
 *
 *   POST /executions                       start (idempotent on a client-given id)
 *   GET  /executions                       list, newest first (?workflow=&status=&tag.<key>=<value>&cursor=&limit=)
 *   GET  /executions/{id}                  one execution
 *   GET  /executions/{id}/history          its history, paged (?cursor=&limit=)
 *   GET  /executions/{id}/values/{name}    a value too large to answer inline, in parts (?part=)
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
 * Order of checks: bearer token (401) → route (404) → method (405) → the caller's tenant and a
 * grant of the route's action on some workflow (403) → content type (415) → body size (413) →
 * JSON and schema (400) → a grant on the workflow concerned (403) → the engine. Everything before
 * the engine writes nothing, and the engine's writes are conditional, so a refused request leaves
 * the table as it was.
 *
 * Tenants (core/tenants.ts): a tenant's caller names executions by the ids it gave them; the
 * handler prefixes every id with the tenant on the way in and strips it on the way out, so the
 * engine never sees an id of another tenant and an id of another tenant answers as a missing one.
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
  getValue,
  getHistory,
  heartbeatCallback,
  listExecutions,
  redriveExecution,
  sendSignal,
  startExecution,
  terminateExecution,
} from "../engine/executions.js";
import { createCursorCodec, type CursorCodec } from "../store/cursor.js";
import { CallbackNotFoundError, ExecutionNotFoundError } from "../store/errors.js";
import { type Action, AUTHORIZATION_ENV, type AuthorizationPolicy, routeActions } from "../core/permissions.js";
import { localExecutionId, tenantExecutionId, tenantOf } from "../core/tenants.js";
import { allows, allowsSomewhere, type Caller, denied, type LocalCaller, parseAuthorizationPolicy, principalOf, resolveCaller } from "./authorization.js";
import { randomUUID } from "node:crypto";
import { cursorCodecFrom, secretsManagerReader } from "./cursor-keys.js";
import { BULK_WORKFLOW, startBulk } from "../engine/bulk.js";
import type { ValueRefs } from "../engine/values.js";
import { readCursorSecret, readCursorSecretArn } from "./config.js";
import { createEngineDeps } from "./deps.js";
import { errorResponse, HttpError, json, parseWith, readJsonBody, truncate } from "./http.js";
import { withPowertools } from "./observability.js";
import { ATTR, contextFromTraceparent, inSpan, SpanKind } from "../engine/tracing.js";

export interface ApiOptions {
  /** When set, every request needs `Authorization: Bearer <token>` (the local stack). In AWS, IAM authorizes at API Gateway. */
  bearerToken?: string;
  /**
   * More local bearer tokens, each standing for a tenant and its actions (`durable dev --tenant`).
   * With these or `bearerToken`, a request needs one of them.
   */
  tokens?: Readonly<Record<string, LocalCaller>>;
  /**
   * Who may do what, and tenants (core/permissions.ts); the deployed function reads it from
   * `DURABLE_AUTHORIZATION`. Absent: every authenticated caller may do everything, in no tenant.
   */
  authorization?: AuthorizationPolicy;
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
  /** The tenant the caller acted in. */
  tenant?: string;
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

const ValueQuery = z
  .object({
    part: z
      .string()
      .regex(/^(0|[1-9][0-9]{0,5})$/, "must be a part number: 0, 1, 2, …")
      .transform(Number)
      .optional(),
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

/** One request's caller, and the id translation of its tenant. */
interface RequestScope {
  readonly caller: Caller;
  /** The stored id of an id the caller named. */
  stored(id: string): string;
  /** A stored id as the caller knows it. */
  local(id: string): string;
  /** Refuses (403) unless the caller may take `action` on the execution; 404 for one it cannot see. */
  requireOn(action: Action, storedId: string): Promise<void>;
}

type Route = (event: APIGatewayProxyEventV2, params: string[], scope: RequestScope) => Promise<APIGatewayProxyStructuredResultV2>;

export function createApiHandler(deps: ApiDeps, options: ApiOptions = {}) {
  const engine: ApiDeps = { ...deps, cursors: deps.cursors ?? createCursorCodec(options.cursorSecret) };
  const policy = options.authorization;
  const tokens = localTokens(options);
  const newId = () => (engine.newId ?? randomUUID)();

  /**
   * `actions`: what the route may do (core/permissions.ts; a caller needs one on some workflow to get further than 403);
   * `audit`: the action a state-changing route takes, logged for every request to it (see AuditEntry).
   */
  const routes: { method: string; pattern: RegExp; actions: readonly Action[]; audit?: AuditAction; run: Route }[] = [
    {
      method: "POST",
      pattern: /^\/executions$/,
      actions: routeActions("POST", "/executions"),
      audit: "start",
      run: async (event, _params, scope) => {
        const body = parseWith(StartBody, requireBody(event, 'a JSON object like {"workflow": "greet", "input": {...}}'), "body");
        if (!allows(scope.caller.grants, "start", body.workflow)) throw denied("start", policy, body.workflow);
        const id = body.id ?? (scope.caller.tenant === undefined ? undefined : newId());
        const { created, execution } = await startExecution(engine, { ...body, ...(id === undefined ? {} : { id: scope.stored(id) }) });
        const view = localView(execution, scope);
        return json(created ? 201 : 200, view, created ? { location: `/executions/${view.id}` } : {});
      },
    },
    {
      method: "GET",
      pattern: /^\/executions$/,
      actions: routeActions("GET", "/executions"),
      run: async (event, _params, scope) => {
        const { tags, rest } = splitTagParams(event.queryStringParameters ?? {});
        const query = parseWith(ListQuery, rest, "query");
        if (!allows(scope.caller.grants, "read", query.workflow)) throw denied("read", policy, query.workflow);
        const page = await listExecutions(engine, {
          ...query,
          limit: query.limit ?? 20,
          ...(tags === undefined ? {} : { tags }),
          ...(scope.caller.tenant === undefined ? {} : { tenant: scope.caller.tenant }),
        });
        return json(200, { ...page, executions: page.executions.map((e) => localView(e, scope)) });
      },
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)$/,
      actions: routeActions("GET", "/executions/{id}"),
      run: async (_event, [id], scope) => {
        const execution = await getExecution(engine, scope.stored(parseWith(ID, id, "execution id")));
        if (!allows(scope.caller.grants, "read", execution.workflow)) throw denied("read", policy, execution.workflow);
        return json(200, localView(execution, scope));
      },
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)\/history$/,
      actions: routeActions("GET", "/executions/{id}/history"),
      run: async (event, [id], scope) => {
        const executionId = scope.stored(parseWith(ID, id, "execution id"));
        const query = parseWith(HistoryQuery, event.queryStringParameters ?? {}, "query");
        await scope.requireOn("read", executionId);
        const page = await getHistory(engine, executionId, { limit: query.limit ?? 100, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
        const localId = scope.local(executionId);
        return json(200, { ...page, events: page.events.map((e) => localEvent(e, scope, localId)) });
      },
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)\/values\/([^/]+)$/,
      actions: routeActions("GET", "/executions/{id}/values/{name}"),
      run: async (event, [id, name], scope) => {
        const executionId = scope.stored(parseWith(ID, id, "execution id"));
        const query = parseWith(ValueQuery, event.queryStringParameters ?? {}, "query");
        await scope.requireOn("read", executionId);
        const value = await getValue(engine, executionId, decodePathSegment(name ?? ""), query.part ?? 0);
        const headers = {
          "content-type": value.parts === 1 ? "application/json" : "text/plain; charset=utf-8",
          "cache-control": "no-store",
          "x-durable-value-bytes": String(value.bytes),
          "x-durable-value-part": String(value.part),
          "x-durable-value-parts": String(value.parts),
          // Parts of one value carry one tag: a value that changed between parts (a new run's input) shows.
          etag: `"${value.sha256}"`,
        };
        return { statusCode: 200, headers, body: value.text };
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/signals\/([^/]+)$/,
      actions: routeActions("POST", "/executions/{id}/signals/{name}"),
      audit: "signal",
      run: async (event, [id, name], scope) => {
        const executionId = scope.stored(parseWith(ID, id, "execution id"));
        const signalName = parseWith(SIGNAL_NAME, decodePathSegment(name ?? ""), "signal name");
        const payload = readJsonBody(event) ?? null;
        await scope.requireOn("signal", executionId);
        const { signalId } = await sendSignal(engine, executionId, signalName, payload);
        return json(202, { signalId });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/cancel$/,
      actions: routeActions("POST", "/executions/{id}/cancel"),
      audit: "cancel",
      run: async (event, [id], scope) => {
        const executionId = scope.stored(parseWith(ID, id, "execution id"));
        const body = parseWith(CancelBody, readJsonBody(event) ?? {}, "body");
        await scope.requireOn("cancel", executionId);
        await cancelExecution(engine, executionId, body.reason);
        return json(202, { id: scope.local(executionId), cancelRequested: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/terminate$/,
      actions: routeActions("POST", "/executions/{id}/terminate"),
      audit: "terminate",
      run: async (event, [id], scope) => {
        const executionId = scope.stored(parseWith(ID, id, "execution id"));
        const request = operatorRequest(event, scope.caller);
        await scope.requireOn("terminate", executionId);
        await terminateExecution(engine, executionId, request);
        return json(202, { id: scope.local(executionId), terminated: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/redrive$/,
      actions: routeActions("POST", "/executions/{id}/redrive"),
      audit: "redrive",
      run: async (event, [id], scope) => {
        const executionId = scope.stored(parseWith(ID, id, "execution id"));
        const request = operatorRequest(event, scope.caller);
        await scope.requireOn("redrive", executionId);
        const redriven = await redriveExecution(engine, executionId, request);
        return json(202, { ...redriven, id: scope.local(redriven.id) });
      },
    },
    {
      method: "POST",
      pattern: /^\/callbacks\/([^/]+)$/,
      actions: routeActions("POST", "/callbacks/{token}"),
      audit: "callback.complete",
      run: async (event, [token], scope) => {
        const result = readJsonBody(event) ?? null;
        const callbackToken = await callbackTokenFor(decodePathSegment(token ?? ""), scope);
        await answerCallback(engine, callbackToken, { ok: true, result });
        return json(202, { accepted: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/callbacks\/([^/]+)\/fail$/,
      actions: routeActions("POST", "/callbacks/{token}/fail"),
      audit: "callback.fail",
      run: async (event, [token], scope) => {
        const body = parseWith(CallbackFailBody, readJsonBody(event) ?? {}, "body");
        const error = {
          name: "CallbackError",
          message: body.message ?? "the callback failed",
          ...(body.code === undefined ? {} : { code: body.code }),
          ...(body.details === undefined ? {} : { details: body.details as Record<string, unknown> }),
        };
        const callbackToken = await callbackTokenFor(decodePathSegment(token ?? ""), scope);
        await answerCallback(engine, callbackToken, { ok: false, error });
        return json(202, { accepted: true });
      },
    },
    {
      method: "POST",
      pattern: /^\/callbacks\/([^/]+)\/heartbeat$/,
      actions: routeActions("POST", "/callbacks/{token}/heartbeat"),
      audit: "callback.heartbeat",
      run: async (_event, [token], scope) => json(200, await heartbeatCallback(engine, await callbackTokenFor(decodePathSegment(token ?? ""), scope))),
    },
    {
      method: "POST",
      pattern: /^\/bulk$/,
      actions: routeActions("POST", "/bulk"),
      audit: "bulk",
      run: async (event, _params, scope) => {
        const body = parseWith(BulkBody, requireBody(event, 'a JSON object like {"action": "cancel", "filter": {"workflow": "greet", "status": "sleeping"}}'), "body");
        if (!allows(scope.caller.grants, body.action, body.filter.workflow)) throw denied(body.action, policy, body.filter.workflow);
        const { createdAfter, createdBefore, ...filter } = body.filter;
        const by = scope.caller.principal;
        const id = body.id ?? (scope.caller.tenant === undefined ? undefined : newId());
        const job = await startBulk(engine, {
          action: body.action,
          filter: {
            ...filter,
            ...(createdAfter === undefined ? {} : { createdAfterMs: Date.parse(createdAfter) }),
            ...(createdBefore === undefined ? {} : { createdBeforeMs: Date.parse(createdBefore) }),
          },
          ...(body.reason === undefined ? {} : { reason: body.reason }),
          ...(body.ratePerSecond === undefined ? {} : { ratePerSecond: body.ratePerSecond }),
          // The job's id names the tenant: it lists and acts on that tenant's executions alone (bulk.ts).
          ...(id === undefined ? {} : { id: scope.stored(id) }),
          ...(by === undefined ? {} : { by }),
        });
        const jobId = scope.local(job.id);
        return json(job.created ? 202 : 200, { id: jobId, workflow: BULK_WORKFLOW }, { location: `/executions/${jobId}` });
      },
    },
    {
      method: "GET",
      pattern: /^\/workflows$/,
      actions: routeActions("GET", "/workflows"),
      run: async (_event, _params, scope) => json(200, { workflows: engine.registry.list().filter((w) => allows(scope.caller.grants, "read", w.name)) }),
    },
  ];

  /** The token if its execution is the caller's to answer; another tenant's is a callback that does not exist. */
  const callbackTokenFor = async (token: string, scope: RequestScope): Promise<string> => {
    const ref = decodeCallbackToken(token);
    if (!ref) return token; // the engine refuses it as malformed (400)
    if (tenantOf(ref.executionId) !== scope.caller.tenant) throw new CallbackNotFoundError();
    await scope.requireOn("callback", ref.executionId).catch((err: unknown) => {
      // A token whose execution is gone matches no callback, as the store would say.
      throw err instanceof ExecutionNotFoundError ? new CallbackNotFoundError() : err;
    });
    return token;
  };

  const scopeFor = (caller: Caller): RequestScope => ({
    caller,
    stored: (id) => tenantExecutionId(caller.tenant, id),
    local: (id) => localExecutionId(caller.tenant, id),
    requireOn: async (action, storedId) => {
      if (allows(caller.grants, action)) return;
      const { workflow } = await getExecution(engine, storedId); // 404 for what the caller cannot see
      if (!allows(caller.grants, action, workflow)) throw denied(action, policy, workflow);
    },
  });

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
            return answerFor(err, undefined);
          }
        }
        const response = await route(event, context, (name, value) => span.setAttribute(name, value));
        span.setAttribute("http.response.status_code", response.statusCode ?? 200);
        return response;
      },
    );

  const route = async (event: APIGatewayProxyEventV2, _context: Context, note: (name: string, value: string) => void): Promise<APIGatewayProxyStructuredResultV2> => {
    let caller: Caller | undefined;
    try {
      // A local token is checked before anything else: without one, not even the routes answer.
      if (tokens !== undefined) caller = resolveCaller(event, policy, tokens);
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
      const run = async (): Promise<APIGatewayProxyStructuredResultV2> => {
        const who = caller ?? resolveCaller(event, policy, undefined);
        caller = who;
        const { actions } = match.route;
        if (!actions.some((a) => allowsSomewhere(who.grants, a))) throw denied(actions[0] as Action, policy);
        return match.route.run(event, match.params, scopeFor(who));
      };
      if (!match.route.audit) return await run();
      const response = await run().catch((err: unknown) => answerFor(err, caller));
      options.audit?.(auditEntry(match.route.audit, event, match.params, response, caller));
      return response;
    } catch (err) {
      return answerFor(err, caller);
    }
  };
  const answerFor = (err: unknown, caller: Caller | undefined): APIGatewayProxyStructuredResultV2 => {
    const { response, unexpected } = errorResponse(err);
    if (unexpected) options.onError?.(err);
    return caller?.tenant === undefined ? response : localAnswer(response, caller.tenant);
  };
  return middy(handle);
}

/** The local tokens a request may carry, or undefined where API Gateway authenticates. */
function localTokens(options: ApiOptions): ReadonlyMap<string, LocalCaller> | undefined {
  if (options.bearerToken === undefined && options.tokens === undefined) return undefined;
  const tokens = new Map<string, LocalCaller>(Object.entries(options.tokens ?? {}));
  if (options.bearerToken !== undefined) tokens.set(options.bearerToken, {});
  return tokens;
}

/** An execution (or list entry) with its ids as the caller knows them. */
function localView<T extends { id: string; parentId?: string; valueRefs?: ValueRefs }>(view: T, scope: RequestScope): T {
  const id = scope.local(view.id);
  return {
    ...view,
    id,
    ...(view.parentId === undefined ? {} : { parentId: scope.local(view.parentId) }),
    ...(view.valueRefs === undefined ? {} : { valueRefs: withHrefs(view.valueRefs, id) }),
  };
}

/** Each reference with the route that serves it. */
function withHrefs(refs: ValueRefs, localId: string): ValueRefs {
  return Object.fromEntries(Object.entries(refs).map(([field, ref]) => [field, { ...ref, href: `/executions/${encodeURIComponent(localId)}/values/${encodeURIComponent(ref.name)}` }]));
}

/** A history event with the ids of the parent and of children as the caller knows them. */
function localEvent(event: Record<string, unknown>, scope: RequestScope, localId: string): Record<string, unknown> {
  const withRefs = event.valueRefs === undefined ? event : { ...event, valueRefs: withHrefs(event.valueRefs as ValueRefs, localId) };
  if (scope.caller.tenant === undefined) return withRefs;
  const local: Record<string, unknown> = { ...withRefs };
  if (typeof event.childId === "string") local.childId = scope.local(event.childId);
  const parent = event.parent as { executionId?: unknown } | undefined;
  if (parent && typeof parent.executionId === "string") local.parent = { ...parent, executionId: scope.local(parent.executionId) };
  return local;
}

/** An error answer whose message names stored ids, with the caller's tenant taken off them. */
function localAnswer(response: APIGatewayProxyStructuredResultV2, tenant: string): APIGatewayProxyStructuredResultV2 {
  if ((response.statusCode ?? 200) < 400 || typeof response.body !== "string" || !response.body.includes(`${tenant}/`)) return response;
  try {
    const body = JSON.parse(response.body) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") body.error.message = body.error.message.split(`"${tenant}/`).join('"');
    return { ...response, body: JSON.stringify(body) };
  } catch {
    return response;
  }
}

/** The deployed entry: `export const handler = apiHandlerFromEnv(workflows)`. */
export function apiHandlerFromEnv(workflows: readonly AnyWorkflow[]) {
  const deps = createEngineDeps(new WorkflowRegistry(workflows));
  const cursorSecret = readCursorSecret();
  const cursorSecretArn = readCursorSecretArn();
  // The construct always sets the policy; without one, JWT callers still need scopes (the default).
  const authorization = parseAuthorizationPolicy(process.env[AUTHORIZATION_ENV]) ?? {};
  return withPowertools(
    createApiHandler(deps, {
      authorization,
      ...(cursorSecret === undefined ? {} : { cursorSecret }),
      ...(cursorSecretArn ? { cursorCodec: cursorCodecFrom(secretsManagerReader(cursorSecretArn)) } : {}),
      onError: (err) => deps.logger?.error("unexpected error", { error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      audit: (entry) => deps.logger?.info("audit", { audit: entry }),
    }),
  );
}

function auditEntry(action: AuditAction, event: APIGatewayProxyEventV2, params: string[], response: APIGatewayProxyStructuredResultV2, caller: Caller | undefined): AuditEntry {
  const status = response.statusCode ?? 200;
  let answer: { id?: unknown; error?: { code?: unknown } } = {};
  try {
    answer = JSON.parse(typeof response.body === "string" ? response.body : "{}") as typeof answer;
  } catch {
    // not JSON: no id or code to take from it
  }
  // The stored id (with the tenant in front), so the log names one execution however many tenants share an id.
  const tenant = caller?.tenant;
  const executionId =
    action === "start" || action === "bulk"
      ? typeof answer.id === "string" ? tenantExecutionId(tenant, answer.id) : undefined
      : action.startsWith("callback.")
        ? decodeCallbackToken(safeDecode(params[0] ?? ""))?.executionId
        : tenantExecutionId(tenant, safeDecode(params[0] ?? ""));
  const principal = caller?.principal ?? principalOf(event);
  const code = status >= 400 && typeof answer.error?.code === "string" ? answer.error.code : undefined;
  return {
    action,
    ...(executionId ? { executionId: truncate(executionId, 256) } : {}),
    ...(principal === undefined ? {} : { principal }),
    ...(tenant === undefined ? {} : { tenant }),
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
function operatorRequest(event: APIGatewayProxyEventV2, caller: Caller): { reason?: string; by?: string } {
  const body = parseWith(CancelBody, readJsonBody(event) ?? {}, "body");
  const by = caller.principal;
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
