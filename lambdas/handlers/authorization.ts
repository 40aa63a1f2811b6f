/**
 * Who the caller is and what it may do, from what API Gateway authorized (a JWT's claims, an IAM
 * principal) or, in the local stack, from the bearer token it sent; and the tenant it acts in.
 * The policy is core/permissions.ts's AuthorizationPolicy. A request is refused with 403 before
 * anything is read when the caller holds the action for no workflow at all; one it holds for some
 * workflows only is checked once the workflow is known (the start's body, the execution's item).
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { type Action, ACTIONS, type AuthorizationPolicy, DEFAULT_SCOPE_PREFIX, DEFAULT_TENANT_CLAIM, isAction, type PrincipalGrant, TENANT_ID } from "../core/permissions.js";
import { bearerTokenOf, HttpError, sameToken, truncate, unauthorized } from "./http.js";

/** What one local bearer token stands for (`durable dev --tenant a` makes one per tenant). */
export interface LocalCaller {
  readonly tenant?: string;
  /** @default every action */
  readonly actions?: readonly Action[];
}

/** The caller of one request: who, in which tenant, and its grants. */
export interface Caller {
  /** An IAM ARN, or a JWT's issuer#subject; undefined for a local token. */
  readonly principal?: string;
  readonly tenant?: string;
  readonly grants: Grants;
}

/** Actions on every workflow, and actions on named workflows only. */
export interface Grants {
  readonly everywhere: ReadonlySet<Action>;
  readonly byWorkflow: ReadonlyMap<string, ReadonlySet<Action>>;
}

const ALL: Grants = { everywhere: new Set(ACTIONS), byWorkflow: new Map() };

export class PermissionDeniedError extends HttpError {
  constructor(
    readonly permission: Action,
    message: string,
  ) {
    super(403, "PERMISSION_DENIED", message, {}, { permission });
  }
}

export function tenantRequired(why: string): HttpError {
  return new HttpError(403, "TENANT_REQUIRED", `this API keeps executions per tenant and ${why}`);
}

/** Whether `grants` allow `action`: on `workflow` when named, else on every workflow. */
export function allows(grants: Grants, action: Action, workflow?: string): boolean {
  if (grants.everywhere.has(action)) return true;
  return workflow !== undefined && (grants.byWorkflow.get(workflow)?.has(action) ?? false);
}

/** Whether `grants` allow `action` on at least one workflow (so checking one is worth a read). */
export function allowsSomewhere(grants: Grants, action: Action): boolean {
  return grants.everywhere.has(action) || [...grants.byWorkflow.values()].some((actions) => actions.has(action));
}

export function denied(action: Action, policy: AuthorizationPolicy | undefined, workflow?: string): PermissionDeniedError {
  const prefix = scopePrefix(policy);
  const how = prefix === undefined ? "" : ` (scope ${prefix}:${action}${workflow === undefined ? "" : ` or ${workflow}:${action}`})`;
  return new PermissionDeniedError(action, `the caller lacks permission "${action}"${workflow === undefined ? "" : ` on workflow "${truncate(workflow, 128)}"`}${how}`);
}

function scopePrefix(policy: AuthorizationPolicy | undefined): string | undefined {
  if (policy === undefined || policy.scopes === false) return undefined;
  return policy.scopes?.prefix ?? DEFAULT_SCOPE_PREFIX;
}

interface AuthorizerContext {
  iam?: { userArn?: string };
  jwt?: { claims?: Record<string, unknown>; scopes?: string[] | null };
}

/**
 * The caller of `event`. `tokens`: the local stack's bearer tokens (a request without one of them
 * is refused with 401); when absent, API Gateway authenticated the request.
 */
export function resolveCaller(event: APIGatewayProxyEventV2, policy: AuthorizationPolicy | undefined, tokens: ReadonlyMap<string, LocalCaller> | undefined): Caller {
  const caller = tokens === undefined ? gatewayCaller(event, policy) : tokenCaller(event, tokens);
  if (policy?.tenants !== undefined && caller.tenant === undefined) {
    throw tenantRequired(caller.principal === undefined ? "this token names no tenant" : `no tenant is known for the caller ${truncate(caller.principal, 200)}`);
  }
  if (policy?.tenants === undefined && caller.tenant !== undefined) return { ...caller, tenant: undefined };
  return caller;
}

function tokenCaller(event: APIGatewayProxyEventV2, tokens: ReadonlyMap<string, LocalCaller>): Caller {
  const sent = bearerTokenOf(event);
  if (sent !== undefined) {
    for (const [token, local] of tokens) {
      if (sameToken(sent, token)) return { ...(local.tenant === undefined ? {} : { tenant: local.tenant }), grants: local.actions === undefined ? ALL : grantsOf(local.actions) };
    }
  }
  throw unauthorized();
}

/** What API Gateway's authorizer put in the request: an IAM caller's ARN, or a JWT's claims. */
function authorizedBy(event: APIGatewayProxyEventV2): { arn?: string; claims?: Record<string, unknown> } {
  const authorizer = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer;
  const arn = authorizer?.iam?.userArn;
  if (typeof arn === "string" && arn.length > 0) return { arn };
  const claims = authorizer?.jwt?.claims;
  return claims ? { claims } : {};
}

function gatewayCaller(event: APIGatewayProxyEventV2, policy: AuthorizationPolicy | undefined): Caller {
  const { arn, claims } = authorizedBy(event);
  if (arn !== undefined) return iamCaller(arn, policy);
  if (claims) return jwtCaller(claims, policy);
  // Nothing authorized at the gateway: a handler called directly (tests) or behind no authorizer.
  return { grants: ALL };
}

function iamCaller(arn: string, policy: AuthorizationPolicy | undefined): Caller {
  const principal = truncate(arn, 512);
  const grant = principalGrant(arn, policy?.principals ?? {});
  // API Gateway checked execute-api:Invoke on the route; a listed principal may be narrowed further.
  return {
    principal,
    ...(grant?.tenant === undefined ? {} : { tenant: grant.tenant }),
    grants: grant?.actions === undefined ? ALL : grantsOf(grant.actions),
  };
}

/**
 * The grant of an IAM caller: by its exact ARN, or for a role's session
 * (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) by the role's ARN, whatever its path.
 */
export function principalGrant(arn: string, principals: Readonly<Record<string, PrincipalGrant>>): PrincipalGrant | undefined {
  const exact = principals[arn];
  if (exact) return exact;
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  if (!session) return undefined;
  const [, partition, account, role] = session;
  for (const [key, grant] of Object.entries(principals)) {
    const roleArn = /^arn:([^:]+):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(key);
    if (roleArn && roleArn[1] === partition && roleArn[2] === account && roleArn[3] === role) return grant;
  }
  return undefined;
}

/** Who API Gateway authorized: the IAM caller's ARN, or a JWT's issuer#subject; undefined for neither. */
export function principalOf(event: APIGatewayProxyEventV2): string | undefined {
  const { arn, claims } = authorizedBy(event);
  if (arn !== undefined) return truncate(arn, 512);
  return claims ? jwtPrincipal(claims) : undefined;
}

function jwtPrincipal(claims: Record<string, unknown>): string | undefined {
  const sub = typeof claims.sub === "string" ? claims.sub : undefined;
  return sub === undefined ? undefined : truncate(typeof claims.iss === "string" ? `${claims.iss}#${sub}` : sub, 512);
}

function jwtCaller(claims: Record<string, unknown>, policy: AuthorizationPolicy | undefined): Caller {
  const principal = jwtPrincipal(claims);
  const claimName = policy?.tenants?.claim ?? DEFAULT_TENANT_CLAIM;
  const tenantClaim = policy?.tenants === undefined ? undefined : claims[claimName];
  if (tenantClaim !== undefined && !(typeof tenantClaim === "string" && TENANT_ID.test(tenantClaim))) {
    throw tenantRequired(`the token's "${claimName}" claim is not a tenant id (1–64 characters of A–Z, a–z, 0–9, _ or -)`);
  }
  const prefix = scopePrefix(policy);
  return {
    ...(principal === undefined ? {} : { principal }),
    ...(typeof tenantClaim === "string" ? { tenant: tenantClaim } : {}),
    grants: prefix === undefined ? ALL : scopeGrants(scopesOf(claims), prefix),
  };
}

/**
 * The token's scopes: `scope` (RFC 8693, space-separated) or `scp` (a list, or a string). API
 * Gateway hands a list claim to the function as one string, `[a b c]`.
 */
export function scopesOf(claims: Record<string, unknown>): string[] {
  const raw = claims.scope ?? claims.scp;
  const list = Array.isArray(raw) ? raw.filter((s): s is string => typeof s === "string") : typeof raw === "string" ? raw.replace(/^\[(.*)\]$/s, "$1").split(/[\s,]+/) : [];
  return list.filter((s) => s.length > 0);
}

/** `<prefix>:<action>` grants it everywhere, `<workflow>:<action>` on that workflow; `*` is every action. */
export function scopeGrants(scopes: readonly string[], prefix: string): Grants {
  const everywhere = new Set<Action>();
  const byWorkflow = new Map<string, Set<Action>>();
  for (const scope of scopes) {
    const at = scope.lastIndexOf(":");
    if (at <= 0) continue;
    const target = scope.slice(0, at);
    const action = scope.slice(at + 1);
    const actions = action === "*" ? ACTIONS : isAction(action) ? [action] : [];
    if (actions.length === 0) continue;
    const into = target === prefix ? everywhere : byWorkflow.get(target) ?? new Set<Action>();
    for (const a of actions) into.add(a);
    if (target !== prefix) byWorkflow.set(target, into);
  }
  return { everywhere, byWorkflow };
}

function grantsOf(actions: readonly Action[]): Grants {
  return { everywhere: new Set(actions), byWorkflow: new Map() };
}

/**
 * The policy in `DURABLE_AUTHORIZATION`, checked: a malformed one stops the function at cold
 * start rather than letting every request through.
 */
export function parseAuthorizationPolicy(json: string | undefined): AuthorizationPolicy | undefined {
  if (json === undefined || json.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error("DURABLE_AUTHORIZATION is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("DURABLE_AUTHORIZATION must be a JSON object");
  const { scopes, principals, tenants, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new Error(`DURABLE_AUTHORIZATION has unknown fields: ${Object.keys(rest).join(", ")}`);
  if (scopes !== undefined && scopes !== false) {
    const prefix = typeof scopes === "object" && scopes !== null && !Array.isArray(scopes) ? (scopes as { prefix?: unknown }).prefix : null;
    if (prefix === null || (prefix !== undefined && !(typeof prefix === "string" && /^[^\s:]+$/.test(prefix)))) {
      throw new Error('DURABLE_AUTHORIZATION.scopes must be false or { "prefix"?: string } (a prefix without spaces or colons)');
    }
  }
  for (const [arn, grant] of Object.entries((principals ?? {}) as Record<string, unknown>)) {
    const { tenant, actions } = (grant ?? {}) as { tenant?: unknown; actions?: unknown };
    if (tenant !== undefined && !(typeof tenant === "string" && TENANT_ID.test(tenant))) throw new Error(`DURABLE_AUTHORIZATION: principal ${arn} has a bad tenant`);
    if (actions !== undefined && !(Array.isArray(actions) && actions.every(isAction))) throw new Error(`DURABLE_AUTHORIZATION: principal ${arn} has unknown actions`);
  }
  if (tenants !== undefined && !(typeof tenants === "object" && tenants !== null && ["string", "undefined"].includes(typeof (tenants as { claim?: unknown }).claim))) {
    throw new Error('DURABLE_AUTHORIZATION.tenants must be { "claim"?: string }');
  }
  return value as AuthorizationPolicy;
}
