/**
 * Bulk actions: cancel, terminate or redrive every execution a filter matches, as a durable
 * execution of the engine's own workflow `durable:bulk` (a name no user workflow can have). It
 * pages through the list as steps (a page of up to 25 executions per step), paces itself to the
 * rate asked, publishes its progress with setState (`GET /executions/{job id}` shows it), goes on
 * where it was after any crash or timeout, continues as new every 40 pages so its history stays
 * small, and stops when canceled like any execution.
 */
import { localExecutionId, tenantOf } from "../core/tenants.js";
import { DurableError, type ErrorInfo, toErrorInfo } from "../core/errors.js";
import type { ExecutionStatus } from "../core/status.js";
import { checkTags, type Tags } from "../core/tags.js";
import type { WorkflowContext, WorkflowDefinition } from "../core/workflow.js";
import { ExecutionEndedError, ExecutionNotFailedError, ExecutionNotFoundError } from "../store/errors.js";
import { type ApiDeps, cancelExecution, redriveExecution, startExecution, terminateExecution } from "./executions.js";

/** The engine's own workflow; `:` keeps it apart from every name `defineWorkflow` accepts. */
export const BULK_WORKFLOW = "durable:bulk";
export type BulkAction = "cancel" | "terminate" | "redrive";

export interface BulkFilter {
  workflow?: string;
  status?: ExecutionStatus;
  tags?: Tags;
  /** Only executions created at or after this time (epoch ms). */
  createdAfterMs?: number;
  /** Only executions created before this time (epoch ms). */
  createdBeforeMs?: number;
}

export interface BulkRequest {
  action: BulkAction;
  filter: BulkFilter;
  reason?: string;
  /** Executions acted on per second at most. Default 10, at most 100. */
  ratePerSecond?: number;
  /** The job's id (idempotent like any start). */
  id?: string;
  /** Who asked (recorded on each terminate and redrive). */
  by?: string;
  /** Executions listed per step, 1 to 100. Default 25. */
  pageSize?: number;
  /** Pages per run before the job continues as new (keeps its history small). Default 40. */
  pagesPerRun?: number;
}

export interface BulkProgress {
  /** Executions the filter matched so far. */
  matched: number;
  /** The action was taken (a cancel was requested, an execution terminated or redriven). */
  done: number;
  /** Ended already, or not failed for a redrive: nothing to do. */
  skipped: number;
  /** The action failed: the first few errors are kept in `errors`. */
  failed: number;
  pages: number;
  errors: { executionId: string; error: Omit<ErrorInfo, "stack"> }[];
  finished: boolean;
}

interface BulkInput extends BulkRequest {
  /** Where the list stands (the store's position), for a continued run. */
  after?: unknown;
  progress?: BulkProgress;
}

export const MAX_BULK_RATE = 100;
const DEFAULT_BULK_RATE = 10;
const PAGE_SIZE = 25;
const PAGES_PER_RUN = 40;
const MAX_KEPT_ERRORS = 20;

export class InvalidBulkRequestError extends DurableError {
  constructor(message: string) {
    super("INVALID_INPUT", message);
  }
}

/** Starts a bulk job; its id is the execution to watch (`state` is a BulkProgress). */
export async function startBulk(deps: ApiDeps, request: BulkRequest): Promise<{ id: string; created: boolean }> {
  const rate = request.ratePerSecond ?? DEFAULT_BULK_RATE;
  if (!(rate > 0 && rate <= MAX_BULK_RATE)) throw new InvalidBulkRequestError(`ratePerSecond must be more than 0 and at most ${MAX_BULK_RATE}`);
  if (request.pageSize !== undefined && !(Number.isInteger(request.pageSize) && request.pageSize >= 1 && request.pageSize <= 100)) throw new InvalidBulkRequestError("pageSize must be a whole number from 1 to 100");
  if (request.pagesPerRun !== undefined && !(Number.isInteger(request.pagesPerRun) && request.pagesPerRun >= 1)) throw new InvalidBulkRequestError("pagesPerRun must be a whole number of at least 1");
  if (request.filter.tags !== undefined) checkTags(request.filter.tags);
  const { filter } = request;
  if (filter.createdAfterMs !== undefined && filter.createdBeforeMs !== undefined && filter.createdAfterMs >= filter.createdBeforeMs) {
    throw new InvalidBulkRequestError("createdAfter must be before createdBefore");
  }
  const { id: _id, ...input } = { ...request, ratePerSecond: rate };
  const { created, execution } = await startExecution(deps, { workflow: BULK_WORKFLOW, input, ...(request.id === undefined ? {} : { id: request.id }) }, { internal: true });
  return { id: execution.id, created };
}

/** The bulk workflow, bound to the engine it acts through. */
export function bulkWorkflow(deps: ApiDeps): WorkflowDefinition<BulkInput, BulkProgress> {
  return Object.freeze({ name: BULK_WORKFLOW, version: 1, fn: (ctx: WorkflowContext, input: BulkInput) => runBulk(deps, ctx, input) });
}

async function runBulk(deps: ApiDeps, ctx: WorkflowContext, input: BulkInput): Promise<BulkProgress> {
  const progress: BulkProgress = input.progress ?? { matched: 0, done: 0, skipped: 0, failed: 0, pages: 0, errors: [], finished: false };
  let after = input.after;
  const rate = input.ratePerSecond ?? DEFAULT_BULK_RATE;
  for (let page = 0; page < (input.pagesPerRun ?? PAGES_PER_RUN); page += 1) {
    const result = await ctx.step(`page-${progress.pages}`, () => actOnPage(deps, ctx.executionId, input, after));
    progress.pages += 1;
    progress.matched += result.matched;
    progress.done += result.done;
    progress.skipped += result.skipped;
    progress.failed += result.errors.length;
    progress.errors = [...progress.errors, ...result.errors].slice(0, MAX_KEPT_ERRORS);
    progress.finished = result.next === undefined;
    ctx.setState(progress);
    if (progress.finished) return progress;
    after = result.next;
    // At most `rate` executions a second: a page of `matched` took its share of time.
    const paceMs = Math.ceil((result.matched / rate) * 1000);
    if (paceMs > 0) await ctx.sleep(`pace-${progress.pages}`, paceMs);
  }
  return ctx.continueAsNew({ ...input, after, progress });
}

interface PageResult {
  matched: number;
  done: number;
  skipped: number;
  errors: BulkProgress["errors"];
  /** The store's position after this page; absent at the end. */
  next?: unknown;
}

/** One page of the list, and the action on each execution of it that the filter keeps. */
async function actOnPage(deps: ApiDeps, jobId: string, input: BulkInput, after: unknown): Promise<PageResult> {
  const { filter } = input;
  // A tenant's job (its id names the tenant) lists and acts on that tenant's executions alone.
  const tenant = tenantOf(jobId);
  const page = await deps.store.listExecutions({
    limit: input.pageSize ?? PAGE_SIZE,
    ...(tenant === undefined ? {} : { tenant }),
    ...(filter.workflow === undefined ? {} : { workflow: filter.workflow }),
    ...(filter.status === undefined ? {} : { status: filter.status }),
    ...(filter.tags === undefined ? {} : { tags: filter.tags }),
    ...(after === undefined ? {} : { after }),
  });
  const result: PageResult = { matched: 0, done: 0, skipped: 0, errors: [] };
  let reachedOlder = false;
  for (const execution of page.executions) {
    if (filter.createdBeforeMs !== undefined && execution.createdAtMs >= filter.createdBeforeMs) continue;
    if (filter.createdAfterMs !== undefined && execution.createdAtMs < filter.createdAfterMs) {
      reachedOlder = true; // newest first: everything after this is older still
      break;
    }
    if (execution.id === jobId || execution.workflow === BULK_WORKFLOW) continue;
    result.matched += 1;
    try {
      await act(deps, input, execution.id);
      result.done += 1;
    } catch (err) {
      if (err instanceof ExecutionEndedError || err instanceof ExecutionNotFailedError || err instanceof ExecutionNotFoundError) result.skipped += 1;
      else {
        const { stack: _stack, ...error } = toErrorInfo(err);
        result.errors.push({ executionId: localExecutionId(tenant, execution.id), error });
      }
    }
  }
  if (!reachedOlder && page.next !== undefined) result.next = page.next;
  return result;
}

async function act(deps: ApiDeps, input: BulkInput, executionId: string): Promise<void> {
  const who = { ...(input.reason === undefined ? {} : { reason: input.reason }), ...(input.by === undefined ? {} : { by: input.by }) };
  switch (input.action) {
    case "cancel":
      return cancelExecution(deps, executionId, input.reason);
    case "terminate":
      return terminateExecution(deps, executionId, who);
    case "redrive":
      await redriveExecution(deps, executionId, who);
      return;
  }
}
