/**
 * Fault injection for the local stack, in the adapters only: an AWS SDK middleware on the
 * DynamoDB and SQS clients, a wrapper around the worker handler the poller invokes, and a helper
 * the test workflow's step bodies call. The engine's code is the deployed code, unchanged.
 *
 * An invocation of the worker runs inside an AsyncLocalStorage context. When a fault "crashes" it,
 * the context is marked dead: from then on every AWS call it makes fails with CrashError before it
 * leaves the process, no step body starts, and the handler's answer is replaced by a throw, so the
 * poller deletes nothing (every message of the batch comes back after its visibility timeout).
 * That is what a Lambda that died at that point looks like from outside. An invocation that runs
 * past its timeout is killed the same way, as Lambda would. A "stall" is the one exception: the
 * invocation pauses longer than its lease inside a write and then carries on, past its timeout: a
 * zombie (a frozen and thawed environment, a long pause) whose writes the fencing must refuse.
 *
 * Requests made outside a worker invocation (the API, the sweeper, the test's own reads) pass.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { type SQSClient, SQSServiceException } from "@aws-sdk/client-sqs";
import type { StepInfo } from "../../lambdas/core/workflow";
import type { SqsHandler } from "../../local/sqs-poller";
import { createPrng } from "../../lambdas/core/prng";

export const FAULT_KINDS = [
  "ddbThrottle",
  "txConflict",
  "sqsSendFail",
  "crashBeforeWrite",
  "crashAfterWrite",
  "crashHoldingLease",
  "crashInStep",
  "crashAfterSend",
  "stall",
  "stallUpdateOnly",
  "duplicateSend",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Probability of each fault per request it applies to: DynamoDB throttling on any request, a
 * transaction conflict on TransactWriteItems, crashes before/after and stalls on writes (PutItem,
 * TransactWriteItems), `stallUpdateOnly` on a transaction that writes no new item (a turn's
 * closing write: only the lease fences it), a crash right after taking a lease, inside a step
 * body, after an SQS send; a send failure or a duplicate on SQS sends.
 */
export type FaultProfile = Partial<Record<FaultKind, number>>;

/** The invocation died here: nothing after this point runs. */
export class CrashError extends Error {
  constructor(where: string) {
    super(`crash: ${where}`);
    this.name = "CrashError";
  }
}

/** One invocation of the worker handler, as the injector sees it. */
export class Invocation {
  crashed = false;
  stalled = false;
  readonly faults: string[] = [];
  /** Condition failures its writes met: another writer got there first. */
  conflicts = 0;
  constructor(
    readonly id: number,
    readonly deadlineMs: number,
  ) {}

  /** Something happened to it that may leave work it did unrecorded, so that work is redone. */
  get disturbed(): boolean {
    return this.crashed || this.stalled || this.faults.length > 0 || this.conflicts > 0;
  }
}

export interface StepRun {
  runId: string;
  invocation: Invocation | undefined;
}

type Middleware = (
  next: (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>,
  context: { commandName?: string },
) => (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>;

interface MiddlewareClient {
  middlewareStack: { add(middleware: Middleware, options: { step: "initialize"; name: string; override?: boolean }): void };
}

/** The engine's own seeded PRNG (mulberry32), to pick faults from a seed. */
export const seededRandom = createPrng;

export class FaultInjector {
  /** Faults injected, by kind, plus invocations killed for running past their timeout. */
  readonly counts: Record<FaultKind | "timeout", number>;
  /** Step body runs by `idempotencyKey#attempt`, in the order they started. */
  readonly runs = new Map<string, StepRun[]>();
  invocations = 0;

  private readonly random: () => number;
  private readonly als = new AsyncLocalStorage<Invocation>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private runCounter = 0;
  private enabled = true;

  constructor(
    readonly seed: number,
    private readonly profile: FaultProfile,
    private readonly options: { stallMs: number },
  ) {
    this.random = seededRandom(seed);
    this.counts = Object.fromEntries([...FAULT_KINDS, "timeout"].map((k) => [k, 0])) as Record<FaultKind | "timeout", number>;
  }

  /** Stops injecting faults (running invocations still die at their timeout). */
  disable(): void {
    this.enabled = false;
  }

  /** Adds the fault middleware to both clients. */
  instrument(clients: { dynamo: DynamoDBClient; sqs: SQSClient }): void {
    (clients.dynamo as unknown as MiddlewareClient).middlewareStack.add((next, context) => (args) => this.dynamo(next, context, args), {
      step: "initialize",
      name: "faultInjection",
      override: true,
    });
    (clients.sqs as unknown as MiddlewareClient).middlewareStack.add((next, context) => (args) => this.sqs(next, context, args), {
      step: "initialize",
      name: "faultInjection",
      override: true,
    });
  }

  /** Runs each invocation in its own context; a crashed one fails as a whole. */
  wrapHandler(handler: SqsHandler): SqsHandler {
    return (event, context) => {
      this.invocations += 1;
      const invocation = new Invocation(this.invocations, Date.now() + context.getRemainingTimeInMillis());
      const run = this.als.run(invocation, async () => {
        const result = await handler(event, context);
        if (invocation.crashed) throw new CrashError(`invocation ${invocation.id} died`);
        return result;
      });
      this.inFlight.add(run);
      void run.catch(() => undefined).finally(() => this.inFlight.delete(run));
      return run;
    };
  }

  /**
   * Wraps a step body: records the run (keyed by idempotency key and attempt) and may crash the
   * invocation inside it. The result carries the run's id, so the checker can tell which run's
   * result history recorded.
   */
  step<T>(info: StepInfo, compute: () => T): { v: T; run: string } {
    const invocation = this.als.getStore();
    if (invocation) this.assertAlive(invocation);
    this.runCounter += 1;
    const runId = `run-${this.runCounter}`;
    const key = `${info.idempotencyKey}#${info.attempt}`;
    const list = this.runs.get(key) ?? [];
    list.push({ runId, invocation });
    this.runs.set(key, list);
    if (invocation && this.roll(["crashInStep"]) === "crashInStep") this.crash(invocation, "crashInStep", "inside a step body");
    return { v: compute(), run: runId };
  }

  /** Resolves once every invocation (stalled zombies included) has finished. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  describeCounts(): string {
    return Object.entries(this.counts)
      .map(([kind, n]) => `${kind}=${n}`)
      .join(" ");
  }

  // ---- middleware ----------------------------------------------------------------------------

  private async dynamo(
    next: (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>,
    context: { commandName?: string },
    args: { input: Record<string, unknown> },
  ): Promise<{ output: unknown }> {
    const invocation = this.als.getStore();
    if (!invocation) return next(args);
    this.assertAlive(invocation);
    const op = (context.commandName ?? "").replace(/Command$/, "");
    const isWrite = op === "PutItem" || op === "TransactWriteItems";
    const isClosing = op === "UpdateItem" && String(args.input.UpdateExpression ?? "").includes("#status = :status");
    const isAcquire = op === "UpdateItem" && String(args.input.UpdateExpression ?? "").startsWith("SET leaseOwner");
    const kinds: FaultKind[] = ["ddbThrottle"];
    if (op === "TransactWriteItems") kinds.push("txConflict");
    if (isWrite) kinds.push("crashBeforeWrite", "crashAfterWrite", "stall");
    const items = (args.input.TransactItems as Record<string, unknown>[] | undefined) ?? [];
    // A turn's closing write adds no history item, so only the lease fences it: a plain UpdateItem
    // of the execution's status, or a transaction without a Put.
    const closingUpdate = op === "UpdateItem" && String(args.input.UpdateExpression ?? "").includes("#status = :status");
    if ((op === "TransactWriteItems" && !items.some((item) => "Put" in item)) || closingUpdate) kinds.push("stallUpdateOnly");
    if (isAcquire) kinds.push("crashHoldingLease");
    const fault = this.roll(kinds);
    switch (fault) {
      case "ddbThrottle":
        this.note(invocation, fault);
        throw new ProvisionedThroughputExceededException({ message: "injected: throughput exceeded", $metadata: {} });
      case "txConflict": {
        this.note(invocation, fault);
        throw new TransactionCanceledException({
          message: "injected: transaction conflict",
          $metadata: {},
          CancellationReasons: items.map((_, i) => ({ Code: i === items.length - 1 ? "TransactionConflict" : "None" })),
        });
      }
      case "crashBeforeWrite":
        this.crash(invocation, fault, `before ${op}`);
        break;
      case "stall":
      case "stallUpdateOnly":
        this.note(invocation, fault);
        invocation.stalled = true;
        await new Promise((resolve) => setTimeout(resolve, this.options.stallMs));
        break;
      default:
        break;
    }
    try {
      return await next(args);
    } catch (err) {
      if ((isWrite || isClosing) && isConditionFailure(err)) invocation.conflicts += 1;
      throw err;
    } finally {
      if (fault === "crashAfterWrite") this.crash(invocation, fault, `after ${op}`);
      if (fault === "crashHoldingLease") this.crash(invocation, fault, "holding a lease");
    }
  }

  private async sqs(
    next: (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>,
    context: { commandName?: string },
    args: { input: Record<string, unknown> },
  ): Promise<{ output: unknown }> {
    const invocation = this.als.getStore();
    if (!invocation) return next(args);
    this.assertAlive(invocation);
    const op = (context.commandName ?? "").replace(/Command$/, "");
    if (op !== "SendMessage" && op !== "SendMessageBatch") return next(args);
    const fault = this.roll(["sqsSendFail", "crashAfterSend"]);
    if (fault === "sqsSendFail") {
      this.note(invocation, fault);
      throw new SQSServiceException({ name: "ServiceUnavailable", $fault: "server", message: "injected: SQS unavailable", $metadata: {} });
    }
    const result = await next(args);
    // Rolled on its own, so a profile can duplicate every send and still fail some.
    if (this.roll(["duplicateSend"]) === "duplicateSend") {
      this.counts.duplicateSend += 1; // not a disturbance of this invocation: nothing of its work is lost
      await next(args);
    }
    if (fault === "crashAfterSend") this.crash(invocation, fault, `after ${op}`);
    return result;
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Picks at most one of `kinds` with their probabilities. */
  private roll(kinds: readonly FaultKind[]): FaultKind | undefined {
    if (!this.enabled) return undefined;
    let r = this.random();
    for (const kind of kinds) {
      const p = this.profile[kind] ?? 0;
      if (r < p) return kind;
      r -= p;
    }
    return undefined;
  }

  private note(invocation: Invocation, kind: FaultKind): void {
    this.counts[kind] += 1;
    invocation.faults.push(kind);
  }

  private crash(invocation: Invocation, kind: FaultKind, where: string): never {
    this.note(invocation, kind);
    invocation.crashed = true;
    throw new CrashError(where);
  }

  /** A dead invocation makes no more calls; one past its timeout is killed, as Lambda would. */
  private assertAlive(invocation: Invocation): void {
    if (invocation.crashed) throw new CrashError(`invocation ${invocation.id} is dead`);
    if (!invocation.stalled && Date.now() > invocation.deadlineMs) {
      invocation.crashed = true;
      this.counts.timeout += 1;
      throw new CrashError(`invocation ${invocation.id} ran past its timeout`);
    }
  }
}

function isConditionFailure(err: unknown): boolean {
  if (err instanceof ConditionalCheckFailedException) return true;
  if (err instanceof TransactionCanceledException) return (err.CancellationReasons ?? []).some((r) => r.Code === "ConditionalCheckFailed");
  return false;
}
