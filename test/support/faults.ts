/**
 * Fault injection for the local stack, in the adapters only: an AWS SDK middleware on the
 * DynamoDB, SQS and S3 clients, wrappers around the worker handler the poller invokes and around
 * the sweeper's runs, a scope for the API's calls, and a helper the test workflows' step bodies
 * call. The engine's code is the deployed code, unchanged.
 *
 * Every request belongs to a side, told by an AsyncLocalStorage scope, and each side has its own
 * profile:
 *
 * - worker: an invocation of the worker handler (`Invocation`). When a fault "crashes" it, the
 *   context is marked dead: from then on every AWS call it makes fails with CrashError before it
 *   leaves the process, no step body starts, and the handler's answer is replaced by a throw, so
 *   the poller deletes nothing (every message of the batch comes back after its visibility
 *   timeout). That is what a Lambda that died at that point looks like from outside. An
 *   invocation that runs past its timeout is killed the same way, as Lambda would. A "stall" is
 *   the one exception: the invocation pauses longer than its lease inside a write and then carries
 *   on, past its timeout: a zombie (a frozen and thawed environment, a long pause) whose writes the
 *   fencing must refuse.
 * - api: one request to the API (`ApiCall`): its writes may be throttled (the caller sees
 *   STORE_BUSY and retries, as a client does on a 503) and its wake-up send may fail after the
 *   write landed (the API still answers OK and counts on the sweeper); its object writes (a large
 *   signal payload or input) may be throttled by S3.
 * - sweeper: one run of a sweeper (`SweepRun`): throttled queries and claims, failed sends, and a
 *   sweep that dies halfway, after some claims landed (they hold until their lock runs out).
 *
 * Requests made outside any scope (the test's own reads, a stack starting) pass.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, type S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { type SQSClient, SQSServiceException } from "@aws-sdk/client-sqs";
import type { StepInfo } from "../../lambdas/core/workflow.js";
import type { SqsHandler } from "../../local/sqs-poller.js";
import { createPrng } from "../../lambdas/core/prng.js";

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
  "notifyFail",
  "s3Throttle",
  "crashAfterObjectWrite",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Probability of each fault per worker request it applies to: DynamoDB throttling on any request,
 * a transaction conflict on TransactWriteItems, crashes before/after and stalls on writes
 * (PutItem, TransactWriteItems), `stallUpdateOnly` on a transaction that writes no new item (a
 * turn's closing write: only the lease fences it), a crash right after taking a lease, inside a
 * step body, after an SQS send; a send failure or a duplicate on SQS sends; `notifyFail`, a send
 * failure only on wake-ups of other executions than the ones the invocation handles (a parent told
 * that its child ended, children started or canceled), so a profile can fail those often without
 * failing every turn. On S3 (large values, written before the item that refers to them):
 * `s3Throttle`, a 503 SlowDown on any request, before it leaves (the commit it was for is not
 * made and the turn is retried); `crashAfterObjectWrite`, the object lands (PutObject, or
 * CompleteMultipartUpload of a value in parts) and the invocation dies before the DynamoDB write
 * that would refer to it: an orphan object, never a dangling reference. Requests sent together
 * (one commit's objects, one upload's parts) roll once between them.
 */
export type FaultProfile = Partial<Record<FaultKind, number>>;

/**
 * The API's faults, per request: throttling and transaction conflicts on its writes (refused
 * before they land, so a retry is safe), a failed wake-up send after the write landed, S3
 * throttling on the object a large value goes to (before the item is written, so a retry is
 * safe too).
 */
export const API_FAULT_KINDS = ["ddbThrottle", "txConflict", "sqsSendFail", "s3Throttle"] as const;
export type ApiFaultKind = (typeof API_FAULT_KINDS)[number];
export type ApiFaultProfile = Partial<Record<ApiFaultKind, number>>;

/**
 * The sweeper's faults: throttling on its query and its claims, a failed send of the wake-ups it
 * claimed, and `crashMidSweep`, rolled once per sweep that claims, at its first claim: that sweep
 * dies right after the claim lands (the claims that landed hold until their lock runs out, the
 * rest are not made). Per sweep, not per claim: a sweep with many claims would otherwise nearly
 * always die; and only sweeps that claim, so the rate says how often the fault really happens.
 */
export const SWEEPER_FAULT_KINDS = ["ddbThrottle", "sqsSendFail", "crashMidSweep"] as const;
export type SweeperFaultKind = (typeof SWEEPER_FAULT_KINDS)[number];
export type SweeperFaultProfile = Partial<Record<SweeperFaultKind, number>>;

export interface FaultInjectorOptions {
  /** How long a stall pauses a worker's write. */
  stallMs: number;
  api?: ApiFaultProfile;
  sweeper?: SweeperFaultProfile;
  /**
   * Deliberately broken (tests of the checks only): the first this many objects a worker's write
   * refers to are deleted right after that write landed, as an engine or a lifecycle rule that
   * lost a referenced value would leave them. Counted as `lostObject`.
   */
  loseCommittedObjects?: number;
}

/** The invocation (or sweep) died here: nothing after this point runs. */
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
  /** Its S3 requests under way (see `workerS3`). */
  s3InFlight = 0;
  constructor(
    readonly id: number,
    readonly deadlineMs: number,
    /** Executions its batch names. */
    readonly handles: ReadonlySet<string> = new Set(),
  ) {}

  /** Something happened to it that may leave work it did unrecorded, so that work is redone. */
  get disturbed(): boolean {
    return this.crashed || this.stalled || this.faults.length > 0 || this.conflicts > 0;
  }
}

/** One request to the API (start, signal, cancel), as the injector sees it. */
export class ApiCall {
  readonly faults: string[] = [];
  constructor(readonly id: number) {}
}

/** One run of a sweeper. */
export class SweepRun {
  crashed = false;
  /** Whether crashMidSweep was rolled yet (at the sweep's first claim). */
  rolled = false;
  readonly faults: string[] = [];
  constructor(readonly id: number) {}
}

type Scope = { side: "worker"; invocation: Invocation } | { side: "api"; call: ApiCall } | { side: "sweeper"; sweep: SweepRun };

export interface StepRun {
  runId: string;
  invocation: Invocation | undefined;
  /** When the body started, by the real clock (not a stack's skewed one). */
  startedAtMs: number;
  /** When a body that takes time (stepAsync) returned its value, by the real clock. */
  endedAtMs?: number;
}

/** A step result stamped with the body run that produced it. */
export type Stamped<T> = { v: T; run: string };

type Next = (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>;
type Middleware = (next: Next, context: { commandName?: string }) => (args: { input: Record<string, unknown> }) => Promise<{ output: unknown }>;

/** The object write S3 makes durable: a whole object, or the last request of one sent in parts. */
const OBJECT_WRITES: ReadonlySet<string> = new Set(["PutObject", "CompleteMultipartUpload"]);
/** Every request of an object's upload. */
const OBJECT_UPLOADS: ReadonlySet<string> = new Set([...OBJECT_WRITES, "CreateMultipartUpload", "UploadPart"]);

interface MiddlewareClient {
  middlewareStack: { add(middleware: Middleware, options: { step: "initialize"; name: string; override?: boolean }): void };
}

/** The engine's own seeded PRNG (mulberry32), to pick faults from a seed. */
export const seededRandom = createPrng;

export class FaultInjector {
  /**
   * Faults injected, for every kind a profile enables: worker faults by kind, plus `timeout`
   * (invocations killed for running past their timeout), then `api.<kind>` and `sweeper.<kind>`,
   * and `lostObject` with `loseCommittedObjects`.
   */
  readonly counts: Record<string, number>;
  /** Step body runs by `idempotencyKey#attempt`, in the order they started. */
  readonly runs = new Map<string, StepRun[]>();
  invocations = 0;
  apiCalls = 0;
  sweeps = 0;

  private readonly runsByExecution = new Map<string, StepRun[]>();
  private readonly random: () => number;
  private readonly als = new AsyncLocalStorage<Scope>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly apiProfile: ApiFaultProfile;
  private readonly sweeperProfile: SweeperFaultProfile;
  private runCounter = 0;
  private enabled = true;
  /** For `loseCommittedObjects`: the S3 client, the bucket of each object written, how many went. */
  private s3Client: S3Client | undefined;
  private readonly bucketOfObject = new Map<string, string>();
  private objectsLost = 0;

  constructor(
    readonly seed: number,
    private readonly profile: FaultProfile,
    private readonly options: FaultInjectorOptions,
  ) {
    this.random = seededRandom(seed);
    this.apiProfile = options.api ?? {};
    this.sweeperProfile = options.sweeper ?? {};
    this.counts = Object.fromEntries([...FAULT_KINDS.filter((k) => (profile[k] ?? 0) > 0), "timeout"].map((k) => [k, 0]));
    for (const [kind, p] of Object.entries(this.apiProfile)) if (p > 0) this.counts[`api.${kind}`] = 0;
    for (const [kind, p] of Object.entries(this.sweeperProfile)) if (p > 0) this.counts[`sweeper.${kind}`] = 0;
    if ((options.loseCommittedObjects ?? 0) > 0) this.counts.lostObject = 0;
  }

  /** Stops injecting faults (running invocations still die at their timeout). */
  disable(): void {
    this.enabled = false;
  }

  /** Adds the fault middleware to the clients (S3's when there is one). */
  instrument(clients: { dynamo: DynamoDBClient; sqs: SQSClient; s3?: S3Client }): void {
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
    if (clients.s3) {
      this.s3Client ??= clients.s3;
      (clients.s3 as unknown as MiddlewareClient).middlewareStack.add((next, context) => (args) => this.s3(next, context, args), {
        step: "initialize",
        name: "faultInjection",
        override: true,
      });
    }
  }

  /** Runs each invocation in its own context; a crashed one fails as a whole. */
  wrapHandler(handler: SqsHandler): SqsHandler {
    return (event, context) => {
      this.invocations += 1;
      const handles = new Set(event.Records.map((r) => executionIdOf(r.body)));
      const invocation = new Invocation(this.invocations, Date.now() + context.getRemainingTimeInMillis(), handles);
      const run = this.als.run({ side: "worker", invocation }, async () => {
        const result = await handler(event, context);
        if (invocation.crashed) throw new CrashError(`invocation ${invocation.id} died`);
        return result;
      });
      this.inFlight.add(run);
      void run.catch(() => undefined).finally(() => this.inFlight.delete(run));
      return run;
    };
  }

  /** Runs each sweep in its own context; a sweep that died fails as a whole. */
  wrapSweep<T>(sweep: () => Promise<T>): () => Promise<T> {
    return () => {
      this.sweeps += 1;
      const run = new SweepRun(this.sweeps);
      return this.als.run({ side: "sweeper", sweep: run }, async () => {
        const result = await sweep();
        if (run.crashed) throw new CrashError(`sweep ${run.id} died`);
        return result;
      });
    };
  }

  /** Runs one API request (what a client's call does) in its own context. */
  apiCall<T>(call: () => Promise<T>): Promise<T> {
    this.apiCalls += 1;
    return this.als.run({ side: "api", call: new ApiCall(this.apiCalls) }, call);
  }

  /**
   * Wraps a step body: records the run (keyed by idempotency key and attempt, with its start time)
   * and may crash the invocation inside it. The result carries the run's id, so the checker can
   * tell which run's result history recorded.
   */
  step<T>(info: StepInfo, compute: () => T): Stamped<T> {
    const runId = this.startRun(info);
    return { v: compute(), run: runId };
  }

  /**
   * `step`, except that the first run of this attempt crashes the invocation inside the body: a
   * crash at a chosen step, for a targeted scenario that must not depend on the dice. Counted as
   * `crashInStep`.
   */
  stepCrashingFirstRun<T>(info: StepInfo, compute: () => T): Stamped<T> {
    const first = !this.runs.has(`${info.idempotencyKey}#${info.attempt}`);
    const runId = this.startRun(info);
    const scope = this.als.getStore();
    if (first && scope?.side === "worker") this.crash(scope.invocation, "crashInStep", "inside a step body (scheduled)");
    return { v: compute(), run: runId };
  }

  /** `step` for a body that takes time (awaits). */
  async stepAsync<T>(info: StepInfo, compute: () => Promise<T>): Promise<Stamped<T>> {
    const runId = this.startRun(info);
    const v = await compute();
    const run = this.runs.get(`${info.idempotencyKey}#${info.attempt}`)?.find((r) => r.runId === runId);
    if (run) run.endedAtMs = Date.now();
    return { v, run: runId };
  }

  /** Body runs of one execution's steps so far, every run and attempt, in the order they started. */
  runsOf(executionId: string): readonly StepRun[] {
    return this.runsByExecution.get(executionId) ?? [];
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

  private startRun(info: StepInfo): string {
    const scope = this.als.getStore();
    const invocation = scope?.side === "worker" ? scope.invocation : undefined;
    if (invocation) this.assertAlive(invocation);
    this.runCounter += 1;
    const runId = `run-${this.runCounter}`;
    const key = `${info.idempotencyKey}#${info.attempt}`;
    const run: StepRun = { runId, invocation, startedAtMs: Date.now() };
    const list = this.runs.get(key) ?? [];
    list.push(run);
    this.runs.set(key, list);
    // The idempotency key is `<execution id>:<run>:<position>`.
    const executionId = info.idempotencyKey.split(":").slice(0, -2).join(":");
    const ofExecution = this.runsByExecution.get(executionId) ?? [];
    ofExecution.push(run);
    this.runsByExecution.set(executionId, ofExecution);
    if (invocation && this.roll(["crashInStep"], this.profile) === "crashInStep") this.crash(invocation, "crashInStep", "inside a step body");
    return runId;
  }

  // ---- middleware ----------------------------------------------------------------------------

  private dynamo(next: Next, context: { commandName?: string }, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    const scope = this.als.getStore();
    const op = (context.commandName ?? "").replace(/Command$/, "");
    switch (scope?.side) {
      case "worker":
        return this.workerDynamo(scope.invocation, next, op, args);
      case "api":
        return this.apiDynamo(scope.call, next, op, args);
      case "sweeper":
        return this.sweeperDynamo(scope.sweep, next, op, args);
      default:
        return next(args);
    }
  }

  private async sqs(next: Next, context: { commandName?: string }, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    const scope = this.als.getStore();
    const op = (context.commandName ?? "").replace(/Command$/, "");
    switch (scope?.side) {
      case "worker":
        return this.workerSqs(scope.invocation, next, op, args);
      case "api":
        return this.sendOrFail(next, op, args, this.apiProfile, () => this.noteSide("api", scope.call.faults, "sqsSendFail"));
      case "sweeper":
        if (scope.sweep.crashed) throw new CrashError(`sweep ${scope.sweep.id} is dead`);
        return this.sendOrFail(next, op, args, this.sweeperProfile, () => this.noteSide("sweeper", scope.sweep.faults, "sqsSendFail"));
      default:
        return next(args);
    }
  }

  private async s3(next: Next, context: { commandName?: string }, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    const scope = this.als.getStore();
    const op = (context.commandName ?? "").replace(/Command$/, "");
    if (this.options.loseCommittedObjects && (op === "PutObject" || op === "CreateMultipartUpload")) {
      this.bucketOfObject.set(String(args.input.Key), String(args.input.Bucket));
    }
    switch (scope?.side) {
      case "worker":
        return this.workerS3(scope.invocation, next, op, args);
      case "api":
        // As on DynamoDB, only its writes: a GET of a large value is not what we test.
        if (OBJECT_UPLOADS.has(op) && this.roll(["s3Throttle"], this.apiProfile) === "s3Throttle") {
          this.noteSide("api", scope.call.faults, "s3Throttle");
          throw slowDown(op);
        }
        return next(args);
      case "sweeper":
        if (scope.sweep.crashed) throw new CrashError(`sweep ${scope.sweep.id} is dead`);
        return next(args);
      default:
        return next(args);
    }
  }

  private async workerDynamo(invocation: Invocation, next: Next, op: string, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    this.assertAlive(invocation);
    const isWrite = op === "PutItem" || op === "TransactWriteItems";
    const isClosing = op === "UpdateItem" && String(args.input.UpdateExpression ?? "").includes("#status = :status");
    const isAcquire = op === "UpdateItem" && String(args.input.UpdateExpression ?? "").startsWith("SET leaseOwner");
    const kinds: FaultKind[] = ["ddbThrottle"];
    if (op === "TransactWriteItems") kinds.push("txConflict");
    if (isWrite) kinds.push("crashBeforeWrite", "crashAfterWrite", "stall");
    const items = (args.input.TransactItems as Record<string, unknown>[] | undefined) ?? [];
    // A turn's closing write adds no history item, so only the lease fences it: a plain UpdateItem
    // of the execution's status, or a transaction without a Put.
    if ((op === "TransactWriteItems" && !items.some((item) => "Put" in item)) || isClosing) kinds.push("stallUpdateOnly");
    if (isAcquire) kinds.push("crashHoldingLease");
    const fault = this.roll(kinds, this.profile);
    switch (fault) {
      case "ddbThrottle":
        this.note(invocation, fault);
        throw throttled();
      case "txConflict":
        this.note(invocation, fault);
        throw conflicted(items.length);
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
      const result = await next(args);
      if (isWrite && this.options.loseCommittedObjects) await this.loseObjects(args.input);
      return result;
    } catch (err) {
      if ((isWrite || isClosing) && isConditionFailure(err)) invocation.conflicts += 1;
      throw err;
    } finally {
      if (fault === "crashAfterWrite") this.crash(invocation, fault, `after ${op}`);
      if (fault === "crashHoldingLease") this.crash(invocation, fault, "holding a lease");
    }
  }

  private async workerSqs(invocation: Invocation, next: Next, op: string, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    this.assertAlive(invocation);
    if (op !== "SendMessage" && op !== "SendMessageBatch") return next(args);
    const others = messageBodies(args.input).some((body) => !invocation.handles.has(executionIdOf(body)));
    const fault = this.roll(others ? ["sqsSendFail", "crashAfterSend", "notifyFail"] : ["sqsSendFail", "crashAfterSend"], this.profile);
    if (fault === "sqsSendFail" || fault === "notifyFail") {
      this.note(invocation, fault);
      throw sendFailed();
    }
    const result = await next(args);
    // Rolled on its own, so a profile can duplicate every send and still fail some.
    if (this.roll(["duplicateSend"], this.profile) === "duplicateSend") {
      this.counts.duplicateSend = (this.counts.duplicateSend ?? 0) + 1; // not a disturbance of this invocation: nothing of its work is lost
      await next(args);
    }
    if (fault === "crashAfterSend") this.crash(invocation, fault, `after ${op}`);
    return result;
  }

  /**
   * Throttling on any request, before it leaves; a crash once an object write landed, before the
   * write that would refer to it. Only a request sent while none other of the invocation's is under
   * way rolls: the objects of one commit (sent together) and the parts of one upload meet one roll
   * between them, so a commit of many large values (a burst of signals taken in at once) fails
   * about as often as a commit of one, and not nearly always.
   */
  private async workerS3(invocation: Invocation, next: Next, op: string, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    this.assertAlive(invocation);
    const rolls = invocation.s3InFlight === 0;
    invocation.s3InFlight += 1;
    try {
      const fault = rolls ? this.roll(OBJECT_WRITES.has(op) ? ["s3Throttle", "crashAfterObjectWrite"] : ["s3Throttle"], this.profile) : undefined;
      if (fault === "s3Throttle") {
        this.note(invocation, fault);
        throw slowDown(op);
      }
      const result = await next(args);
      if (fault === "crashAfterObjectWrite") this.crash(invocation, fault, `after ${op} of ${String(args.input.Key)}`);
      return result;
    } finally {
      invocation.s3InFlight -= 1;
    }
  }

  /** `loseCommittedObjects`: deletes the objects a write that landed refers to, while any are left to lose. */
  private async loseObjects(input: Record<string, unknown>): Promise<void> {
    const limit = this.options.loseCommittedObjects ?? 0;
    for (const key of dataRefsOf(input)) {
      const bucket = this.bucketOfObject.get(key);
      if (this.objectsLost >= limit || !this.s3Client || bucket === undefined) return;
      this.objectsLost += 1;
      const client = this.s3Client;
      // Outside every scope: the delete itself meets no fault. One that fails loses nothing (not counted).
      const deleted = await this.als.exit(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))).then(
        () => true,
        () => false,
      );
      if (deleted) this.counts.lostObject = (this.counts.lostObject ?? 0) + 1;
    }
  }

  /** The API's writes may be refused before they land; its reads pass (a GET is not what we test). */
  private apiDynamo(call: ApiCall, next: Next, op: string, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    if (op !== "PutItem" && op !== "TransactWriteItems" && op !== "UpdateItem") return next(args);
    const kinds: ApiFaultKind[] = op === "TransactWriteItems" ? ["ddbThrottle", "txConflict"] : ["ddbThrottle"];
    const fault = this.roll(kinds, this.apiProfile);
    if (fault === "ddbThrottle") {
      this.noteSide("api", call.faults, fault);
      throw throttled();
    }
    if (fault === "txConflict") {
      this.noteSide("api", call.faults, fault);
      throw conflicted(((args.input.TransactItems as unknown[] | undefined) ?? []).length);
    }
    return next(args);
  }

  private async sweeperDynamo(sweep: SweepRun, next: Next, op: string, args: { input: Record<string, unknown> }): Promise<{ output: unknown }> {
    if (sweep.crashed) throw new CrashError(`sweep ${sweep.id} is dead`);
    if (this.roll(["ddbThrottle"], this.sweeperProfile) === "ddbThrottle") {
      this.noteSide("sweeper", sweep.faults, "ddbThrottle");
      throw throttled();
    }
    const result = await next(args);
    // A claim moves the wake time to the end of the claim's lock (see claimDue).
    const isClaim = op === "UpdateItem" && String(args.input.UpdateExpression ?? "").startsWith("SET nextWakeAtMs = :lockedUntil");
    if (isClaim && !sweep.rolled) {
      sweep.rolled = true;
      if (this.roll(["crashMidSweep"], this.sweeperProfile) !== "crashMidSweep") return result;
      this.noteSide("sweeper", sweep.faults, "crashMidSweep");
      sweep.crashed = true;
      throw new CrashError(`sweep ${sweep.id} died after a claim`);
    }
    return result;
  }

  private async sendOrFail(
    next: Next,
    op: string,
    args: { input: Record<string, unknown> },
    profile: ApiFaultProfile | SweeperFaultProfile,
    note: () => void,
  ): Promise<{ output: unknown }> {
    if (op !== "SendMessage" && op !== "SendMessageBatch") return next(args);
    if (this.roll(["sqsSendFail"], profile) === "sqsSendFail") {
      note();
      throw sendFailed();
    }
    return next(args);
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Picks at most one of `kinds` with their probabilities in `profile`. */
  private roll<K extends string>(kinds: readonly K[], profile: Partial<Record<K, number>>): K | undefined {
    // A side whose profile enables none of these draws nothing, so adding a side with no faults
    // leaves the other sides' rolls (and so a FAULT_SEED run) as they were.
    if (!this.enabled || !kinds.some((kind) => (profile[kind] ?? 0) > 0)) return undefined;
    const seen = this.offers.get(profile) ?? new Map<string, { offered: number; hit: boolean }>();
    this.offers.set(profile, seen);
    let r = this.random();
    let picked: K | undefined;
    for (const kind of kinds) {
      const p = profile[kind] ?? 0;
      if (picked === undefined && r < p) picked = kind;
      r -= p;
    }
    // Every kind a profile enables must be met by every run, whatever the machine's pace does to
    // the number of chances: a kind that had three times its expected wait without a hit is
    // injected at the next chance. Rare (the tail of the draw), so the rates stay as set.
    if (picked === undefined) {
      picked = kinds.find((kind) => {
        const p = profile[kind] ?? 0;
        const state = seen.get(kind);
        return p > 0 && state !== undefined && !state.hit && state.offered >= Math.ceil(3 / p);
      });
    }
    for (const kind of kinds) {
      if ((profile[kind] ?? 0) <= 0) continue;
      const state = seen.get(kind) ?? { offered: 0, hit: false };
      state.offered += 1;
      if (kind === picked) state.hit = true;
      seen.set(kind, state);
    }
    return picked;
  }

  /** Per profile and kind: chances offered so far, and whether one was taken. */
  private readonly offers = new WeakMap<object, Map<string, { offered: number; hit: boolean }>>();

  private note(invocation: Invocation, kind: FaultKind): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    invocation.faults.push(kind);
  }

  private noteSide(side: "api" | "sweeper", faults: string[], kind: string): void {
    const key = `${side}.${kind}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    faults.push(kind);
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
      this.counts.timeout = (this.counts.timeout ?? 0) + 1;
      throw new CrashError(`invocation ${invocation.id} ran past its timeout`);
    }
  }
}

function throttled(): ProvisionedThroughputExceededException {
  return new ProvisionedThroughputExceededException({ message: "injected: throughput exceeded", $metadata: {} });
}

/** A transaction canceled by a concurrent one: the last item names the conflict, as DynamoDB does. */
function conflicted(items: number): TransactionCanceledException {
  return new TransactionCanceledException({
    message: "injected: transaction conflict",
    $metadata: {},
    CancellationReasons: Array.from({ length: items }, (_, i) => ({ Code: i === items - 1 ? "TransactionConflict" : "None" })),
  });
}

/** S3's answer when it wants fewer requests: 503 SlowDown, thrown above the SDK's retries (as if they were spent). */
function slowDown(op: string): S3ServiceException {
  return new S3ServiceException({ name: "SlowDown", $fault: "server", message: `injected: Please reduce your request rate (${op}).`, $metadata: { httpStatusCode: 503 } });
}

function sendFailed(): SQSServiceException {
  return new SQSServiceException({ name: "ServiceUnavailable", $fault: "server", message: "injected: SQS unavailable", $metadata: {} });
}

/** The bodies an SQS send carries (SendMessage or SendMessageBatch). */
function messageBodies(input: Record<string, unknown>): string[] {
  const entries = input.Entries as { MessageBody?: string }[] | undefined;
  if (entries) return entries.map((e) => e.MessageBody ?? "");
  return [String(input.MessageBody ?? "")];
}

/** Object keys the items of a PutItem or TransactWriteItems refer to (`dataRef`, marshalled or not). */
function dataRefsOf(input: Record<string, unknown>): string[] {
  const transactItems = (input.TransactItems as { Put?: { Item?: Record<string, unknown> } }[] | undefined) ?? [];
  const items = [input.Item as Record<string, unknown> | undefined, ...transactItems.map((t) => t.Put?.Item)];
  return items.flatMap((item) => {
    const ref = item?.dataRef;
    if (typeof ref === "string") return [ref];
    if (ref && typeof ref === "object" && typeof (ref as { S?: unknown }).S === "string") return [(ref as { S: string }).S];
    return [];
  });
}

function executionIdOf(body: string): string {
  try {
    return String((JSON.parse(body) as { executionId?: unknown }).executionId);
  } catch {
    return "";
  }
}

function isConditionFailure(err: unknown): boolean {
  if (err instanceof ConditionalCheckFailedException) return true;
  if (err instanceof TransactionCanceledException) return (err.CancellationReasons ?? []).some((r) => r.Code === "ConditionalCheckFailed");
  return false;
}
