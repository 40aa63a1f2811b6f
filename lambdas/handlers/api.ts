/**
 * The API Lambda (API Gateway HTTP API, payload v2). Parses and validates the request, calls one
 * engine function, shapes the answer. The local stack serves this same handler over HTTP.
 *
 *   POST /executions                       start (idempotent on a client-given id)
 *   GET  /executions/{id}                  one execution
 *   GET  /executions/{id}/history          its history, paged (?cursor=&limit=)
 *   POST /executions/{id}/signals/{name}   send a signal (JSON body = payload)
 *   POST /executions/{id}/cancel           ask it to cancel ({ "reason"?: string })
 *   GET  /workflows                        registered workflows and versions
 */
import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { type AnyWorkflow, WorkflowRegistry } from "../core/workflow";
import {
  type ApiDeps,
  cancelExecution,
  getExecution,
  getHistory,
  sendSignal,
  startExecution,
} from "../engine/executions";
import { MAX_VALUE_BYTES } from "../store/dynamo-store";
import { createEngineDeps } from "./deps";
import { errorResponse, HttpError, json } from "./http";

export interface ApiOptions {
  /** When set, every request needs `Authorization: Bearer <token>` (the local stack). In AWS, IAM authorizes at API Gateway. */
  bearerToken?: string;
  /** Where unexpected errors are reported (never sent to the client). */
  onError?: (err: unknown) => void;
}

const ID = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1–128 characters of A–Z, a–z, 0–9, _ or -");
const SIGNAL_NAME = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "must be 1–128 characters of A–Z, a–z, 0–9, _ . : or -");

const StartBody = z
  .object({
    workflow: z.string().min(1).max(128),
    version: z.number().int().positive().optional(),
    input: z.unknown().optional(),
    id: ID.optional(),
  })
  .strict();

const CancelBody = z.object({ reason: z.string().max(1024).optional() }).strict();

const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
});

type Route = (event: APIGatewayProxyEventV2, params: string[]) => Promise<APIGatewayProxyStructuredResultV2>;

export function createApiHandler(deps: ApiDeps, options: ApiOptions = {}) {
  const routes: { method: string; pattern: RegExp; run: Route }[] = [
    {
      method: "POST",
      pattern: /^\/executions$/,
      run: async (event) => {
        const body = parse(StartBody, readJson(event), "body");
        const { created, execution } = await startExecution(deps, body);
        return json(created ? 201 : 200, execution, created ? { location: `/executions/${execution.id}` } : {});
      },
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)$/,
      run: async (_event, [id]) => json(200, await getExecution(deps, parse(ID, id, "execution id"))),
    },
    {
      method: "GET",
      pattern: /^\/executions\/([^/]+)\/history$/,
      run: async (event, [id]) => {
        const query = parse(HistoryQuery, event.queryStringParameters ?? {}, "query");
        const afterSeq = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        const page = await getHistory(deps, parse(ID, id, "execution id"), { limit: query.limit, ...(afterSeq === undefined ? {} : { afterSeq }) });
        return json(200, { events: page.events, ...(page.nextAfterSeq === undefined ? {} : { cursor: encodeCursor(page.nextAfterSeq) }) });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/signals\/([^/]+)$/,
      run: async (event, [id, name]) => {
        const executionId = parse(ID, id, "execution id");
        const signalName = parse(SIGNAL_NAME, decodeURIComponent(name ?? ""), "signal name");
        const payload = event.body === undefined || event.body === "" ? null : readJson(event);
        const { signalId } = await sendSignal(deps, executionId, signalName, payload);
        return json(202, { signalId });
      },
    },
    {
      method: "POST",
      pattern: /^\/executions\/([^/]+)\/cancel$/,
      run: async (event, [id]) => {
        const executionId = parse(ID, id, "execution id");
        const body = event.body === undefined || event.body === "" ? {} : parse(CancelBody, readJson(event), "body");
        await cancelExecution(deps, executionId, body.reason);
        return json(202, { id: executionId, cancelRequested: true });
      },
    },
    {
      method: "GET",
      pattern: /^\/workflows$/,
      run: async () => json(200, { workflows: deps.registry.list() }),
    },
  ];

  const handle = async (event: APIGatewayProxyEventV2, _context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      if (options.bearerToken !== undefined) checkBearer(event, options.bearerToken);
      const method = event.requestContext.http.method.toUpperCase();
      const path = event.rawPath.replace(/\/+$/, "") || "/";
      const matches = routes.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m);
      if (matches.length === 0) throw new HttpError(404, "ROUTE_NOT_FOUND", `no route for ${method} ${path}`);
      const match = matches.find((x) => x.r.method === method);
      if (!match || !match.m) throw new HttpError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${path}`);
      return await match.r.run(event, match.m.slice(1));
    } catch (err) {
      const { response, unexpected } = errorResponse(err);
      if (unexpected) options.onError?.(err);
      return response;
    }
  };
  return middy(handle);
}

/** The deployed entry: `export const handler = apiHandlerFromEnv(workflows)`. */
export function apiHandlerFromEnv(workflows: readonly AnyWorkflow[]) {
  const deps = createEngineDeps(new WorkflowRegistry(workflows));
  return createApiHandler(deps, {
    onError: (err) => deps.logger?.error("unexpected error", { error: err instanceof Error ? err.stack ?? err.message : String(err) }),
  });
}

// ---- request parsing --------------------------------------------------------------------------

function readJson(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body === undefined ? "" : event.isBase64Encoded ? Buffer.from(event.body, "base64").toString("utf8") : event.body;
  if (Buffer.byteLength(raw) > MAX_VALUE_BYTES) {
    throw new HttpError(413, "PAYLOAD_TOO_LARGE", `the request body is ${Buffer.byteLength(raw)} bytes; the limit is ${MAX_VALUE_BYTES} bytes`);
  }
  if (raw.trim() === "") throw new HttpError(400, "INVALID_JSON", "the request body must be JSON");
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HttpError(400, "INVALID_JSON", "the request body is not valid JSON");
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${what}.${issue.path.join(".")}` : what;
  throw new HttpError(400, "INVALID_INPUT", `${where}: ${issue?.message ?? "invalid"}`);
}

function checkBearer(event: APIGatewayProxyEventV2, token: string): void {
  const header = event.headers?.authorization ?? "";
  const given = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HttpError(401, "UNAUTHORIZED", "missing or wrong bearer token (Authorization: Bearer <token>)");
  }
}

function encodeCursor(afterSeq: number): string {
  return Buffer.from(JSON.stringify({ h: afterSeq })).toString("base64url");
}

function decodeCursor(cursor: string): number {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { h?: unknown };
    if (typeof value.h === "number" && Number.isInteger(value.h) && value.h >= 0) return value.h;
  } catch {
    // fall through
  }
  throw new HttpError(400, "INVALID_CURSOR", "the cursor is not one this API gave out");
}
