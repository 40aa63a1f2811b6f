/**
 * The fault scenario: two local stacks (two workers with two poller loops each, two sweepers) on
 * one table and one queue, a few hundred executions of a workflow mixing steps, a flaky step, a
 * sleep and signals, a signal storm to one execution, executions meant to fail (a step that fails
 * for good; a workflow version this deployment lacks, which only engine retries can end), and
 * random faults from test/support/faults.ts. Then the invariants are checked against what
 * DynamoDB, the dead-letter queue and the step-run log say, and every breach is listed.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { NonRetryableError } from "../../lambdas/core/errors";
import type { HistoryEvent } from "../../lambdas/core/events";
import { isTerminal } from "../../lambdas/core/status";
import { defineWorkflow } from "../../lambdas/core/workflow";
import { sendSignal, startExecution } from "../../lambdas/engine/executions";
import { DynamoExecutionStore } from "../../lambdas/store/dynamo-store";
import { executionPk, PENDING_PREFIX } from "../../lambdas/store/keys";
import type { ExecutionRecord } from "../../lambdas/store/store";
import { type LocalStack, startLocalStack } from "../../local/stack";
import { type FaultInjector, FaultInjector as Injector, type FaultProfile, seededRandom } from "../support/faults";
import { testClients, uniqueName } from "../support/services";

export interface ScenarioOptions {
  /** Prefix of the table and queue names. */
  name: string;
  seed: number;
  profile: FaultProfile;
  /** Executions of the main workflow that must complete. */
  flows: number;
  /** Executions whose last step fails for good: they must end `failed`, through history. */
  doomed: number;
  /** Executions of a version the workers lack: engine retries must fail them and dead-letter them. */
  unregistered: number;
  storm: { senders: number; perSender: number };
  /** How long a stall pauses a write: longer than a lease, so another worker takes over. */
  stallMs: number;
  /** How long to wait for every execution to end. */
  deadlineMs: number;
  /** The deliberately broken store (tests only). */
  unsafeSkipLeaseCheck?: boolean;
}

export interface ScenarioReport {
  violations: string[];
  summary: string;
  injected: Record<string, number>;
  durationMs: number;
}

const FLOW = "fault-flow";
const STORM = "fault-storm";
/** Every step of the scenario's workflows allows this many attempts. */
const MAX_ATTEMPTS = 3;

interface FlowInput {
  n: number;
  signals: number;
  doomed?: boolean;
}
type Stamped<T> = { v: T; run: string };
interface FlowOutput {
  a: Stamped<number>;
  b: Stamped<number>;
  c: Stamped<number>;
  d: Stamped<number>;
  got: number[];
}
interface StormSignal {
  s: number;
  i: number;
}

function workflows(faults: FaultInjector) {
  const flow = defineWorkflow(FLOW, async (ctx, input: FlowInput): Promise<FlowOutput> => {
    const a = await ctx.step("a", (info) => faults.step(info, () => input.n + 1));
    const [b, c] = await Promise.all([
      ctx.step("b", (info) => faults.step(info, () => input.n * 2)),
      ctx.step(
        "c",
        (info) =>
          faults.step(info, () => {
            if (info.attempt === 1 && input.n % 3 === 0) throw new Error("flaky first attempt");
            return input.n * 3;
          }),
        { retry: { maxAttempts: MAX_ATTEMPTS, initialInterval: 100 } },
      ),
    ]);
    await ctx.sleep("nap", 1_000);
    const got: number[] = [];
    for (let i = 0; i < input.signals; i += 1) got.push(await ctx.waitForSignal<number>("tick"));
    const d = await ctx.step("d", (info) => faults.step(info, () => got.reduce((x, y) => x + y, 0)));
    if (input.doomed) {
      await ctx.step("doomed", (info) =>
        faults.step(info, () => {
          throw new NonRetryableError("this step is meant to fail");
        }),
      );
    }
    return { a, b, c, d, got };
  });
  const storm = defineWorkflow(STORM, async (ctx, input: { total: number }) => {
    const got: StormSignal[] = [];
    for (let k = 0; k < input.total; k += 1) {
      got.push(await ctx.waitForSignal<StormSignal>("storm"));
      if (k % 5 === 4) await ctx.step("tally", (info) => faults.step(info, () => got.length));
    }
    return { got };
  });
  return { flow, storm };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  const startedAt = Date.now();
  const faults = new Injector(options.seed, options.profile, { stallMs: options.stallMs });
  const { flow, storm } = workflows(faults);
  const endpoints = { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") };
  const tableName = uniqueName(`${options.name}-t`);
  const queueName = uniqueName(`${options.name}-q`);
  const stacks: LocalStack[] = [];
  const violations: string[] = [];
  const timing = seededRandom(options.seed ^ 0x5eed);
  // What the engine reported (warnings and errors), by message: diagnostics for a failing run.
  const reported = new Map<string, number>();
  const trace: string[] = [];
  const note = (level: string) => (message: string, data?: Record<string, unknown>) => {
    reported.set(`${level}: ${message}`, (reported.get(`${level}: ${message}`) ?? 0) + 1);
    if (process.env.FAULT_TRACE && (!data?.executionId || String(data.executionId).includes(process.env.FAULT_TRACE))) {
      trace.push(`${new Date().toISOString().slice(11, 23)} ${level} ${message} ${JSON.stringify(data ?? {})}`);
    }
  };
  const logger = { debug: () => undefined, info: note("info"), warn: note("warn"), error: note("error") };

  try {
    for (let i = 0; i < 2; i += 1) {
      stacks.push(
        await startLocalStack({
          workflows: [flow, storm],
          endpoints,
          tableName,
          queueName,
          // Short everything, so crashes and lost messages cost seconds, not minutes.
          workerTimeoutMs: 4_000,
          visibilityTimeoutSeconds: 2,
          sweepIntervalMs: 1_000,
          sweepGraceMs: 2_000,
          sweepLockMs: 3_000,
          workerConcurrency: 2,
          workerOptions: { minRemainingMs: 1_000, leaseMarginMs: 500, engineRetries: { delaySeconds: () => 0 } },
          instrumentClients: (clients) => faults.instrument(clients),
          wrapWorkerHandler: (handler) => faults.wrapHandler(handler),
          storeOptions: options.unsafeSkipLeaseCheck ? { unsafeSkipLeaseCheck: true } : {},
          logger,
        }),
      );
    }
    const api = (stacks[0] as LocalStack).deps;
    const deadLetterQueueUrl = (stacks[0] as LocalStack).deadLetterQueueUrl;
    const clients = testClients();

    // ---- start everything ---------------------------------------------------------------------
    const flows = Array.from({ length: options.flows }, (_, n) => ({ id: `flow-${n}`, n }));
    const doomed = Array.from({ length: options.doomed }, (_, i) => ({ id: `doomed-${i}`, n: 1_000 + i }));
    const unregistered = Array.from({ length: options.unregistered }, (_, i) => `unregistered-${i}`);
    const stormTotal = options.storm.senders * options.storm.perSender;
    const sent = new Map<string, { signalId: string; payload: unknown }[]>();

    await inBatches(flows, 25, ({ id, n }) => startExecution(api, { workflow: FLOW, id, input: { n, signals: 2 } satisfies FlowInput }));
    await inBatches(doomed, 25, ({ id, n }) => startExecution(api, { workflow: FLOW, id, input: { n, signals: 0, doomed: true } satisfies FlowInput }));
    await inBatches(unregistered, 25, async (id) => {
      // Version 2 was never deployed: every turn fails until the engine gives up.
      await api.store.createExecution({ id, workflow: FLOW, version: 2, input: { n: 0, signals: 0 }, nowMs: Date.now() });
      await api.scheduler.wakeNow([id]);
    });
    await startExecution(api, { workflow: STORM, id: "storm", input: { total: stormTotal } });

    // ---- signals: two per flow, sent one after the other; a storm from several senders ----------
    const signal = async (id: string, name: string, payload: unknown) => {
      const { signalId } = await sendSignal(api, id, name, payload);
      const list = sent.get(id) ?? [];
      list.push({ signalId, payload });
      sent.set(id, list);
    };
    const delays = flows.map(() => [Math.floor(timing() * 1_500), Math.floor(timing() * 800)] as const);
    await Promise.all([
      inBatches(flows, 50, async ({ id, n }, index) => {
        const [first, second] = delays[index] as readonly [number, number];
        await sleep(first);
        await signal(id, "tick", n * 10);
        await sleep(second);
        await signal(id, "tick", n * 10 + 1);
      }),
      Promise.all(
        Array.from({ length: options.storm.senders }, async (_, s) => {
          for (let i = 0; i < options.storm.perSender; i += 1) await signal("storm", "storm", { s, i } satisfies StormSignal);
        }),
      ),
    ]);

    // ---- wait for the end ------------------------------------------------------------------------
    const checker = new DynamoExecutionStore({ client: clients.doc, tableName });
    const all = [...flows.map((f) => f.id), ...doomed.map((d) => d.id), ...unregistered, "storm"];
    const remaining = new Set(all);
    const waitUntil = Date.now() + options.deadlineMs;
    while (remaining.size > 0 && Date.now() < waitUntil) {
      await sleep(500);
      await inBatches([...remaining], 50, async (id) => {
        const record = await checker.getExecution(id);
        if (record && isTerminal(record.status)) remaining.delete(id);
      });
    }
    for (const id of remaining) violations.push(`${id}: did not end within ${options.deadlineMs} ms`);

    // Stop the workers, then let stalled zombies finish: their late writes must change nothing.
    await Promise.all(stacks.splice(0).map((s) => s.stop()));
    await faults.settled();
    faults.disable();

    // ---- check --------------------------------------------------------------------------------------
    const doc = clients.doc;
    const records = new Map<string, { record: ExecutionRecord | undefined; history: HistoryEvent[]; inbox: number }>();
    await inBatches(all, 25, async (id) => {
      const [record, { events }, inbox] = await Promise.all([
        checker.getExecution(id),
        checker.readHistory(id),
        doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: "PK = :pk AND begins_with(SK, :p)",
            ExpressionAttributeValues: { ":pk": executionPk(id), ":p": PENDING_PREFIX },
            Select: "COUNT",
            ConsistentRead: true,
          }),
        ),
      ]);
      records.set(id, { record, history: events, inbox: inbox.Count ?? 0 });
    });
    const v = (id: string, problem: string) => violations.push(`${id}: ${problem}`);

    for (const id of all) {
      const { record, history, inbox } = records.get(id) as { record: ExecutionRecord | undefined; history: HistoryEvent[]; inbox: number };
      if (!record) {
        v(id, "execution item missing");
        continue;
      }
      checkHistoryShape(id, record, history, v);
      checkSteps(id, history, faults, v);
      if (inbox !== 0) v(id, `${inbox} inbox item(s) never consumed`);
      if (record.leaseOwner !== undefined) v(id, `still leased by ${record.leaseOwner} after it ended`);
      if (isTerminal(record.status) && record.nextWakeAtMs !== undefined) v(id, "ended but still in the due index");
    }

    for (const { id, n } of flows) {
      const { record, history } = records.get(id)!;
      if (record?.status !== "completed") {
        v(id, `status ${record?.status}, expected completed${record?.error ? ` (${record.error.message})` : ""}`);
        continue;
      }
      if (record.retryCount !== 0) v(id, `retryCount ${record.retryCount} after a clean end`);
      const out = record.output as FlowOutput;
      const signals = sent.get(id) ?? [];
      const expected = { a: n + 1, b: n * 2, c: n * 3, got: signals.map((s) => s.payload), d: n * 20 + 1 };
      const actual = { a: out.a?.v, b: out.b?.v, c: out.c?.v, got: out.got, d: out.d?.v };
      if (JSON.stringify(actual) !== JSON.stringify(expected)) v(id, `output ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
      const recorded = new Map(stepResults(history).map((e) => [e.name, (e.result as Stamped<unknown> | undefined)?.run]));
      for (const name of ["a", "b", "c", "d"] as const) {
        if (out[name]?.run !== recorded.get(name)) v(id, `output of step ${name} came from ${out[name]?.run}, history recorded ${recorded.get(name)}`);
      }
      checkSignalsOnce(id, history, signals, v);
      const flaky = history.filter((e) => e.type === "StepAttemptFailed").length;
      if (flaky !== (n % 3 === 0 ? 1 : 0)) v(id, `${flaky} failed attempts of step c, expected ${n % 3 === 0 ? 1 : 0}`);
    }

    for (const { id } of doomed) {
      const { record, history } = records.get(id)!;
      if (record?.status !== "failed" || record.error?.code !== "STEP_FAILED") v(id, `status ${record?.status} (${record?.error?.code}), expected failed by STEP_FAILED`);
      if (!history.some((e) => e.type === "StepFailed" && e.name === "doomed")) v(id, "no StepFailed for the doomed step");
    }

    let fallbacks = 0;
    for (const id of unregistered) {
      const { record, history } = records.get(id)!;
      if (record?.status !== "failed" || record.error?.code !== "ENGINE_RETRIES_EXHAUSTED") {
        v(id, `status ${record?.status} (${record?.error?.code}), expected failed by ENGINE_RETRIES_EXHAUSTED`);
      }
      if (history[history.length - 1]?.type !== "ExecutionFailed") fallbacks += 1; // failed by the conditional status update
    }

    {
      const { record, history } = records.get("storm")!;
      const signals = sent.get("storm") ?? [];
      if (record?.status !== "completed") v("storm", `status ${record?.status}, expected completed`);
      else {
        const got = (record.output as { got: StormSignal[] }).got;
        checkSignalsOnce("storm", history, signals, v, { ordered: false });
        const keys = got.map((g) => `${g.s}/${g.i}`);
        if (new Set(keys).size !== stormTotal || keys.length !== stormTotal) v("storm", `got ${keys.length} signals (${new Set(keys).size} distinct), sent ${stormTotal}`);
        for (let s = 0; s < options.storm.senders; s += 1) {
          const order = got.filter((g) => g.s === s).map((g) => g.i);
          if (order.some((i, k) => k > 0 && i <= (order[k - 1] as number))) v("storm", `sender ${s}'s signals consumed out of order: ${order.join(",")}`);
        }
      }
    }

    // Step bodies: attempts within the policy; an attempt ran again only after the invocation
    // that ran it before was disturbed (a crash, a fault, a timeout, a stall, or a conflict).
    let runCount = 0;
    let reruns = 0;
    for (const [key, runs] of faults.runs) {
      runCount += runs.length;
      reruns += runs.length - 1;
      const attempt = Number(key.slice(key.lastIndexOf("#") + 1));
      if (attempt > MAX_ATTEMPTS) violations.push(`${key}: attempt ${attempt} ran; at most ${MAX_ATTEMPTS} allowed`);
      runs.slice(0, -1).forEach((run, i) => {
        if (!run.invocation?.disturbed) {
          violations.push(`${key}: ran ${runs.length} times; run ${i + 1} (${run.runId}, invocation ${run.invocation?.id}) was not disturbed, yet the attempt ran again`);
        }
      });
    }

    // The dead-letter queue holds exactly the executions the engine gave up on.
    const deadLettered = await drainQueue(clients.sqs, deadLetterQueueUrl);
    for (const id of unregistered) if (!deadLettered.has(id)) v(id, "gave up but its wake-up is not in the dead-letter queue");
    for (const id of deadLettered) if (!unregistered.includes(id)) v(id, "in the dead-letter queue, but it was not meant to fail");

    const durationMs = Date.now() - startedAt;
    const completed = [...records.values()].filter((r) => r.record?.status === "completed").length;
    const signalCount = [...sent.values()].reduce((n, list) => n + list.length, 0);
    const summary =
      `fault suite seed=${options.seed}${options.unsafeSkipLeaseCheck ? " (BROKEN: unsafeSkipLeaseCheck)" : ""}: ` +
      `${all.length} executions (${completed} completed; meant to fail: ${doomed.length} by a step, ${unregistered.length} by engine retries → DLQ` +
      `${fallbacks > 0 ? `, ${fallbacks} via the status-update fallback` : ""}), ` +
      `${signalCount} signals (storm: ${stormTotal} from ${options.storm.senders} senders), ` +
      `${faults.invocations} invocations, ${runCount} step runs (${reruns} re-runs after faults); ` +
      `faults injected: ${faults.describeCounts()}; violations=${violations.length}; ${(durationMs / 1000).toFixed(1)} s`;
    if (trace.length > 0) console.log(trace.join("\n"));
    if (violations.length > 0 && !options.unsafeSkipLeaseCheck) console.log([...reported.entries()].map(([m, n]) => `${n} × ${m}`).join("\n"));
    return { violations, summary, injected: { ...faults.counts }, durationMs };
  } finally {
    await Promise.all(stacks.map((s) => s.stop()));
    faults.disable();
  }
}

// ---- invariants ----------------------------------------------------------------------------------

type Report = (id: string, problem: string) => void;

function stepResults(history: HistoryEvent[]) {
  return history.filter((e): e is HistoryEvent & { type: "StepCompleted" } => e.type === "StepCompleted");
}

/** Contiguous seqs from 1; exactly one terminal event, last, agreeing with the execution item. */
function checkHistoryShape(id: string, record: ExecutionRecord, history: HistoryEvent[], v: Report): void {
  history.forEach((e, i) => {
    if (e.seq !== i + 1) v(id, `history seq ${e.seq} at position ${i + 1}`);
  });
  const terminal = history.filter((e) => e.type === "ExecutionCompleted" || e.type === "ExecutionFailed" || e.type === "ExecutionCanceled");
  const last = history[history.length - 1];
  const fellBack = record.status === "failed" && record.error?.code === "ENGINE_RETRIES_EXHAUSTED" && terminal.length === 0;
  if (fellBack) return;
  if (terminal.length !== 1) v(id, `${terminal.length} terminal events in history (${terminal.map((e) => `${e.type}@${e.seq}`).join(", ")})`);
  else if (terminal[0] !== last) v(id, `events after the terminal one (${last?.type}@${last?.seq})`);
  const statusOf: Record<string, string> = { ExecutionCompleted: "completed", ExecutionFailed: "failed", ExecutionCanceled: "canceled" };
  if (last && statusOf[last.type] !== record.status) v(id, `execution item says ${record.status}, history ends with ${last.type}`);
}

/** Per step position: one outcome, attempts numbered 1..k, each recorded result from a real run. */
function checkSteps(id: string, history: HistoryEvent[], faults: FaultInjector, v: Report): void {
  const byCmd = new Map<number, HistoryEvent[]>();
  for (const e of history) {
    if (e.type === "StepCompleted" || e.type === "StepFailed" || e.type === "StepAttemptFailed") {
      const list = byCmd.get(e.cmd) ?? [];
      list.push(e);
      byCmd.set(e.cmd, list);
    }
  }
  for (const [cmd, events] of byCmd) {
    const outcomes = events.filter((e) => e.type !== "StepAttemptFailed");
    if (outcomes.length !== 1) v(id, `step at position ${cmd} has ${outcomes.length} recorded outcomes`);
    events.forEach((e, i) => {
      const attempt = (e as { attempt: number }).attempt;
      if (attempt !== i + 1) v(id, `step at position ${cmd}: event ${i + 1} records attempt ${attempt}`);
      if (attempt > MAX_ATTEMPTS) v(id, `step at position ${cmd}: attempt ${attempt} recorded`);
    });
    for (const e of events) {
      if (e.type !== "StepCompleted") continue;
      const key = `${id}:1:${cmd}#${e.attempt}`;
      const run = (e.result as Stamped<unknown> | undefined)?.run;
      if (!faults.runs.get(key)?.some((r) => r.runId === run)) v(id, `step at position ${cmd} recorded ${run}, which no body run of attempt ${e.attempt} produced`);
    }
  }
}

/** Every signal sent is in history exactly once; with `ordered`, in the order it was sent. */
function checkSignalsOnce(id: string, history: HistoryEvent[], sent: { signalId: string }[], v: Report, options: { ordered: boolean } = { ordered: true }): void {
  const received = history.filter((e): e is HistoryEvent & { type: "SignalReceived" } => e.type === "SignalReceived").map((e) => e.signalId);
  const counts = new Map<string, number>();
  for (const s of received) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const { signalId } of sent) {
    const n = counts.get(signalId) ?? 0;
    if (n !== 1) v(id, `signal ${signalId} consumed ${n} times`);
  }
  if (received.length !== sent.length) v(id, `${received.length} signals in history, ${sent.length} sent`);
  if (options.ordered && JSON.stringify(received) !== JSON.stringify(sent.map((s) => s.signalId))) v(id, "signals consumed out of the order they were sent");
}

// ---- plumbing ------------------------------------------------------------------------------------

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const index = next;
        next += 1;
        await fn(items[index] as T, index);
      }
    }),
  );
}

/** Execution ids of every message in the queue (received and deleted). */
async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let empty = 0; empty < 2; ) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 30 }));
    const messages = out.Messages ?? [];
    if (messages.length === 0) {
      empty += 1;
      continue;
    }
    for (const m of messages) ids.add(String((JSON.parse(m.Body ?? "{}") as { executionId?: string }).executionId));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
  }
  return ids;
}
