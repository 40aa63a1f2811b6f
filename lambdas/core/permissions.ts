/**
 * Who may do what through the HTTP API: the actions a caller can be granted, the route each
 * belongs to, and the policy the API function enforces (set by the construct as
 * `DURABLE_AUTHORIZATION`, JSON). No imports: the construct loads this file too.
 */

/** What a caller may be allowed to do. `read` covers get, history, list and the workflow list. */
export const ACTIONS = ["start", "read", "signal", "cancel", "terminate", "redrive", "callback"] as const;
export type Action = (typeof ACTIONS)[number];

export function isAction(value: unknown): value is Action {
  return typeof value === "string" && (ACTIONS as readonly string[]).includes(value);
}

/**
 * Every route of the API, with the action it takes. `/bulk` takes the action its body names
 * (cancel, terminate or redrive); an IAM grant of it is a grant of all three.
 */
export const API_ROUTE_ACTIONS: ReadonlyArray<{ readonly method: "GET" | "POST"; readonly path: string; readonly actions: readonly Action[] }> = [
  { method: "POST", path: "/executions", actions: ["start"] },
  { method: "GET", path: "/executions", actions: ["read"] },
  { method: "GET", path: "/executions/{id}", actions: ["read"] },
  { method: "GET", path: "/executions/{id}/history", actions: ["read"] },
  { method: "GET", path: "/executions/{id}/values/{name}", actions: ["read"] },
  { method: "POST", path: "/executions/{id}/signals/{name}", actions: ["signal"] },
  { method: "POST", path: "/executions/{id}/cancel", actions: ["cancel"] },
  { method: "POST", path: "/executions/{id}/terminate", actions: ["terminate"] },
  { method: "POST", path: "/executions/{id}/redrive", actions: ["redrive"] },
  { method: "POST", path: "/callbacks/{token}", actions: ["callback"] },
  { method: "POST", path: "/callbacks/{token}/fail", actions: ["callback"] },
  { method: "POST", path: "/callbacks/{token}/heartbeat", actions: ["callback"] },
  { method: "POST", path: "/bulk", actions: ["cancel", "terminate", "redrive"] },
  { method: "GET", path: "/workflows", actions: ["read"] },
];

/** The actions of the route `method path`; throws for a route not in the table, so the two cannot drift. */
export function routeActions(method: "GET" | "POST", path: string): readonly Action[] {
  const route = API_ROUTE_ACTIONS.find((r) => r.method === method && r.path === path);
  if (!route) throw new Error(`no route ${method} ${path} in API_ROUTE_ACTIONS`);
  return route.actions;
}

/** The routes a grant of `actions` opens: a route whose every action is granted. */
export function routesFor(actions: readonly Action[]): typeof API_ROUTE_ACTIONS {
  return API_ROUTE_ACTIONS.filter((route) => route.actions.every((action) => actions.includes(action)));
}

/** What one IAM principal is, by its ARN: its tenant, and the actions it may take (all when absent). */
export interface PrincipalGrant {
  readonly tenant?: string;
  readonly actions?: readonly Action[];
}

/**
 * The rules the API function applies to every request, after API Gateway has authenticated it.
 *
 * - JWT callers: `scopes` grants actions by the token's `scope` (or `scp`) claim:
 *   `<prefix>:<action>` for every workflow, `<workflow>:<action>` for one (`approval:signal`),
 *   `*` for the action part means all of them. `false`: any token the authorizer accepts may do
 *   everything.
 * - IAM callers: API Gateway checks `execute-api:Invoke` per route; `principals` narrows a
 *   principal further and gives it a tenant. A role's ARN matches every session of the role.
 * - `tenants`: executions are kept per tenant, taken from the JWT claim `tenants.claim` or the
 *   principal's grant; a caller without one is refused (403 TENANT_REQUIRED).
 */
export interface AuthorizationPolicy {
  /** @default { prefix: "durable" } */
  readonly scopes?: false | { readonly prefix?: string };
  readonly principals?: Readonly<Record<string, PrincipalGrant>>;
  readonly tenants?: { readonly claim?: string };
}

export const DEFAULT_SCOPE_PREFIX = "durable";
export const DEFAULT_TENANT_CLAIM = "tenant";

/** The environment variable the construct passes the policy in, as JSON. */
export const AUTHORIZATION_ENV = "DURABLE_AUTHORIZATION";

/** A tenant's id: short, and never holding the `/` that separates it from an execution's id. */
export const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;
