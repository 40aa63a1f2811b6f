/**
 * Tenants: an execution started by a tenant's caller is stored under `<tenant>/<id>`, so every
 * key of it (its items, its children, its tag and listing entries) names the tenant, and a caller
 * of one tenant cannot reach another's by any id: the API puts the caller's tenant in front of
 * every id it is given, and takes it off every id it answers with. `/` is in no id a caller may
 * give, nor in a tenant's, so the first `/` of a stored id ends its tenant.
 */
import { TENANT_ID } from "./permissions.js";

export const TENANT_SEPARATOR = "/";

/** Longest id a caller names an execution by (a path segment of the API). */
export const MAX_LOCAL_ID_CHARS = 256;
/** Longest id an execution is stored under: a tenant of 64 characters, `/`, and a caller's id. */
export const MAX_STORED_ID_CHARS = 64 + 1 + MAX_LOCAL_ID_CHARS;

/** The tenant an execution belongs to, from its stored id; undefined for an execution of none. */
export function tenantOf(executionId: string): string | undefined {
  const at = executionId.indexOf(TENANT_SEPARATOR);
  return at > 0 ? executionId.slice(0, at) : undefined;
}

/** The stored id of a tenant's execution (or `id` itself for no tenant). */
export function tenantExecutionId(tenant: string | undefined, id: string): string {
  return tenant === undefined ? id : `${tenant}${TENANT_SEPARATOR}${id}`;
}

/** The id the tenant's callers know a stored id by. */
export function localExecutionId(tenant: string | undefined, storedId: string): string {
  if (tenant === undefined) return storedId;
  const prefix = `${tenant}${TENANT_SEPARATOR}`;
  return storedId.startsWith(prefix) ? storedId.slice(prefix.length) : storedId;
}

/** A child with an id of its own belongs to its parent's tenant. */
export function idInTenantOf(parentId: string, childId: string): string {
  return tenantExecutionId(tenantOf(parentId), childId);
}

export function isTenantId(value: unknown): value is string {
  return typeof value === "string" && TENANT_ID.test(value);
}
