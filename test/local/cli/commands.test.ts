/**
 * The operator commands (`durable start`, `get`, `list`, `history`, `value`, `watch`, `result`,
 * `signal`, `cancel`, `terminate`, `redrive`) as a script or a person at a terminal uses them: the real
 * program (main, as the bin runs it) against one local stack, with stdout, stderr and the exit
 * code captured. Also where they connect: DURABLE_URL/DURABLE_TOKEN, --url with --token or IAM,
 * and the `.durable/dev.json` of a `durable dev`, found from a subfolder, refused when stale.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { NonRetryableError } from "../../../lambdas/core/errors.js";
import { defineWorkflow } from "../../../lambdas/core/workflow.js";
import { HISTORY_PAGE_SIZE } from "../../../local/cli/commands/history.js";
import { main } from "../../../local/cli/main.js";
import { EXIT } from "../../../local/cli/ops/exit-codes.js";
import { type LocalStack, startLocalStack } from "../../../local/stack.js";
import { uniqueName } from "../../support/services.js";

const greet = defineWorkflow("greet", async (ctx, input: { name: string }) => {
  const greeting = await ctx.step("compose", () => `Hello, ${input.name}!`);
  return { greeting };
});

const approval = defineWorkflow("approval", async (ctx, input: { request: string }) => {
  ctx.setState({ stage: "waiting for a decision" });
  const decision = await ctx.waitForSignal<{ approved: boolean }>("decision");
  return { request: input.request, approved: decision.approved };
});

/** A step that fails its first attempt, then one that fails for good. */
const fragile = defineWorkflow("fragile", async (ctx, input: { reason: string }) => {
  await ctx.step(
    "flaky",
    (info) => {
      if (info.attempt === 1) throw new Error("first try fails");
      return "ok";
    },
    { retry: { maxAttempts: 2, initialInterval: "10ms" } },
  );
  await ctx.step("reject", () => {
    throw new NonRetryableError(input.reason, { code: "ORDER_REJECTED" });
  });
});

const napper = defineWorkflow("napper", async (ctx, input: { ms: number }) => {
  ctx.setState({ phase: "napping" });
  await ctx.sleep("nap", input.ms);
  return await ctx.step("wake", () => "awake");
});

const chatty = defineWorkflow("chatty", async (ctx, input: { steps: number }) => {
  for (let i = 0; i < input.steps; i += 1) await ctx.step(`step-${i}`, () => i);
  return input.steps;
});

/** Fails until the test "deploys the fix", then a redrive completes it. */
let parserFixed = false;
const parser = defineWorkflow("parser", async (ctx, input: { text: string }) => {
  const words = await ctx.step("split", () => input.text.split(" "));
  const count = await ctx.step("count", () => {
    if (!parserFixed) throw new NonRetryableError("parser bug", { code: "PARSER_BUG" });
    return words.length;
  });
  return { count };
});

/** A 1.5 MB step result, over the 1 MB of JSON the API answers inline (as is the input the tests give it). */
const REPORT = `REPORT-START${"r".repeat(1_500_000)}REPORT-END`;
const bulky = defineWorkflow("bulky", async (ctx, input: { blob: string }) => {
  const report = await ctx.step("report", () => REPORT);
  return { inputChars: input.blob.length, reportChars: report.length };
});
const echo = defineWorkflow("echo", async (_ctx, input: unknown) => input);

let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  stack = await startLocalStack({
    workflows: [greet, approval, fragile, napper, parser, chatty, bulky, echo],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("cli-commands"),
    queueName: uniqueName("cli-commands"),
    visibilityTimeoutSeconds: 2,
  });
  dir = await mkdtemp(join(tmpdir(), "durable-cli-commands-"));
});

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every variable the connection rules read: each run sets exactly the ones it is given. */
const CONNECTION_ENV = ["DURABLE_URL", "DURABLE_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"];

/**
 * Runs `durable <args>` as the bin does, in `cwd` (default: a folder with no dev server), with
 * `env` as the connection variables (default: DURABLE_URL and DURABLE_TOKEN of the stack).
 */
async function durable(args: string[], options: { cwd?: string; env?: Record<string, string>; tty?: boolean } = {}): Promise<Ran> {
  const env = options.env ?? { DURABLE_URL: stack.apiUrl, DURABLE_TOKEN: stack.bearerToken };
  const savedEnv = Object.fromEntries(CONNECTION_ENV.map((name) => [name, process.env[name]]));
  const savedCwd = process.cwd();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array, ...rest: unknown[]) => {
    into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    const done = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    done?.();
    return true;
  };
  for (const name of CONNECTION_ENV) delete process.env[name];
  Object.assign(process.env, env);
  process.chdir(options.cwd ?? dir);
  const outSpy = vi.spyOn(process.stdout, "write").mockImplementation(capture(stdout) as typeof process.stdout.write);
  const errSpy = vi.spyOn(process.stderr, "write").mockImplementation(capture(stderr) as typeof process.stderr.write);
  const tty = Object.getOwnPropertyDescriptor(process.stdout, "isTTY");
  const columns = Object.getOwnPropertyDescriptor(process.stdout, "columns");
  if (options.tty) {
    Object.defineProperty(process.stdout, "isTTY", { value: true, configurable: true });
    Object.defineProperty(process.stdout, "columns", { value: 200, configurable: true });
  }
  process.exitCode = undefined;
  try {
    await main(["node", "durable", ...args]);
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
    if (options.tty) {
      restoreProperty("isTTY", tty);
      restoreProperty("columns", columns);
    }
    process.chdir(savedCwd);
    for (const name of CONNECTION_ENV) {
      if (savedEnv[name] === undefined) delete process.env[name];
      else process.env[name] = savedEnv[name];
    }
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout: stdout.join(""), stderr: stderr.join("") };
}

function restoreProperty(name: "isTTY" | "columns", descriptor: PropertyDescriptor | undefined): void {
  if (descriptor === undefined) delete (process.stdout as unknown as Record<string, unknown>)[name];
  else Object.defineProperty(process.stdout, name, descriptor);
}

/** `durable <args>` that must succeed; its stdout. */
async function ok(args: string[]): Promise<string> {
  const ran = await durable(args);
  expect(ran, `durable ${args.join(" ")}`).toMatchObject({ code: 0, stderr: "" });
  return ran.stdout;
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");
const jsonLines = (text: string) => lines(text).map((line) => JSON.parse(line) as Record<string, unknown>);

describe("durable start, get and list", () => {
  it("starts with --input @file, --id and tags, prints the id, and --json prints the execution", async () => {
    await writeFile(join(dir, "ada.json"), '{ "name": "Ada" }\n');
    expect(await ok(["start", "greet", "--input", "@ada.json", "--id", "start-1", "--tag", "team=ops", "--tag", "customer=c-42"])).toBe("start-1\n");

    const execution = JSON.parse(await ok(["get", "start-1", "--json"])) as Record<string, unknown>;
    expect(execution).toMatchObject({ id: "start-1", workflow: "greet", input: { name: "Ada" }, tags: { team: "ops", customer: "c-42" } });

    const inThirtyDays = new Date(Date.now() + 30 * 86_400_000).toISOString();
    // Inline JSON, a delayed start, and the execution as JSON.
    const delayed = JSON.parse(await ok(["start", "greet", "--input", '{"name":"Bo"}', "--start-at", inThirtyDays, "--json"])) as Record<string, unknown>;
    expect(delayed).toMatchObject({ workflow: "greet", status: "sleeping", startAt: inThirtyDays, input: { name: "Bo" } });
    expect(delayed.id).toEqual(expect.any(String));

    // The same start again is a no-op, said on stderr so the id on stdout stays usable.
    const again = await durable(["start", "greet", "--input", "@ada.json", "--id", "start-1", "--tag", "team=ops", "--tag", "customer=c-42"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("start-1\n");
    expect(again.stderr).toContain('execution "start-1" existed already');
  });

  it("gets an execution readable: status, workflow, tags, times, state and output", async () => {
    await ok(["start", "greet", "--input", '{"name":"Cy"}', "--id", "get-1", "--tag", "team=ops"]);
    expect(await ok(["result", "get-1"])).toBe('{\n  "greeting": "Hello, Cy!"\n}\n');
    const shown = await ok(["get", "get-1"]);
    expect(shown).toMatch(/^id {10}get-1$/m);
    expect(shown).toMatch(/^workflow {4}greet v1$/m);
    expect(shown).toMatch(/^status {6}completed$/m);
    expect(shown).toMatch(/^tags {8}team=ops$/m);
    expect(shown).toMatch(/^created {5}\d{4}-\d\d-\d\dT[\d:.]+Z$/m);
    expect(shown).toMatch(/^updated {5}\S+Z {2}\(\d+(ms|\.\ds) after created\)$/m);
    expect(shown).toMatch(/^input {7}\{"name":"Cy"\}$/m);
    expect(shown).toMatch(/^output {6}\{"greeting":"Hello, Cy!"\}$/m);

    // A workflow waiting shows the state it published.
    await ok(["start", "approval", "--input", '{"request":"desk"}', "--id", "get-state"]);
    await until(async () => (await ok(["get", "get-state"])).includes("sleeping"));
    expect(await ok(["get", "get-state"])).toMatch(/^state {7}\{"stage":"waiting for a decision"\} {2}\(at \S+Z\)$/m);
  });

  it("lists with --workflow, --status, --tag and --limit as a table, --all and --json as JSON lines", async () => {
    for (const n of [1, 2, 3]) await ok(["start", "greet", "--input", JSON.stringify({ name: `L${n}` }), "--id", `list-${n}`, "--tag", "batch=b1"]);
    await ok(["start", "greet", "--input", '{"name":"other"}', "--id", "list-other", "--tag", "batch=b2"]);
    for (const n of [1, 2, 3]) await ok(["result", `list-${n}`]);

    const table = lines(await ok(["list", "--workflow", "greet", "--tag", "batch=b1"]));
    expect(table[0]).toMatch(/^ID\s+WORKFLOW\s+STATUS\s+CREATED\s+UPDATED$/);
    expect(table.slice(1).map((line) => line.split(/\s+/).slice(0, 3))).toEqual([
      ["list-3", "greet", "completed"],
      ["list-2", "greet", "completed"],
      ["list-1", "greet", "completed"],
    ]);

    const limited = await durable(["list", "--tag", "batch=b1", "--limit", "2"]);
    expect(limited.code).toBe(0);
    expect(lines(limited.stdout).slice(1).map((line) => line.split(/\s+/)[0])).toEqual(["list-3", "list-2"]);
    expect(limited.stderr).toContain("showing the newest 2; more may match (--limit <n>, or --all for every one)");

    const all = jsonLines(await ok(["list", "--tag", "batch=b1", "--all", "--json"]));
    expect(all.map((execution) => execution.id)).toEqual(["list-3", "list-2", "list-1"]);
    expect(all[0]).toMatchObject({ workflow: "greet", status: "completed", tags: { batch: "b1" } });

    const sleeping = jsonLines(await ok(["list", "--status", "sleeping", "--tag", "batch=b1", "--json"]));
    expect(sleeping).toEqual([]);
    const none = await durable(["list", "--workflow", "no-such-workflow"]);
    expect(none).toMatchObject({ code: 0, stdout: "", stderr: "no executions match\n" });
  });
});

describe("durable history", () => {
  it("prints a timeline: seq, time, event, name, duration, attempt and the error of each event", async () => {
    await ok(["start", "fragile", "--input", '{"reason":"out of stock"}', "--id", "history-1"]);
    const failed = await durable(["result", "history-1"]);
    expect(failed.code).toBe(EXIT.executionUnsuccessful);
    expect(failed.stdout).toBe("");
    expect(failed.stderr).toMatch(/^durable: EXECUTION_FAILED: execution "history-1" failed: .*out of stock\n$/);

    const timeline = lines(await ok(["history", "history-1"]));
    expect(timeline[0]).toMatch(/^ seq {2}time {22}event {16}name {15}took {2}try {2}detail$/);
    const at = String.raw`\d{4}-\d\d-\d\dT[\d:.]+Z`;
    const took = String.raw`\d+(ms|\.\ds|m \d\ds)`;
    // Columns: seq, time, event, name, took (derived), try (the attempt), detail (errors first).
    const expected = [
      new RegExp(String.raw`^ +1  ${at}  ExecutionStarted +fragile +v1, run 1, input \{"reason":"out of stock"\}$`),
      new RegExp(String.raw`^ +2  ${at}  StepAttemptFailed +flaky +${took} +1  first try fails; retry at ${at}$`),
      new RegExp(String.raw`^ +3  ${at}  StepCompleted +flaky +${took} +2  result "ok"$`),
      new RegExp(String.raw`^ +4  ${at}  StepFailed +reject +${took} +1  ORDER_REJECTED: out of stock$`),
      new RegExp(String.raw`^ +5  ${at}  ExecutionFailed +${took} +STEP_FAILED: step "reject" failed .*out of stock$`),
    ];
    expect(timeline.slice(1)).toHaveLength(expected.length);
    timeline.slice(1).forEach((line, i) => expect(line).toMatch(expected[i] as RegExp));

    // --json: the events as the API gives them, one per line, every page.
    const events = jsonLines(await ok(["history", "history-1", "--json"]));
    expect(events.map((event) => [event.seq, event.type])).toEqual([
      [1, "ExecutionStarted"],
      [2, "StepAttemptFailed"],
      [3, "StepCompleted"],
      [4, "StepFailed"],
      [5, "ExecutionFailed"],
    ]);
    expect(events[1]).toMatchObject({ name: "flaky", attempt: 1, error: { message: "first try fails" } });
  });

  it("pages through a history longer than one page", async () => {
    const steps = HISTORY_PAGE_SIZE + 5;
    await ok(["start", "chatty", "--input", JSON.stringify({ steps }), "--id", "history-long"]);
    expect(await ok(["result", "history-long"])).toBe(`${steps}\n`);
    const events = jsonLines(await ok(["history", "history-long", "--json"]));
    expect(events).toHaveLength(steps + 2);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1));
    const timeline = lines(await ok(["history", "history-long"]));
    expect(timeline).toHaveLength(steps + 3);
    expect(timeline.at(-1)).toMatch(/^ +\d+ +\S+Z {2}ExecutionCompleted .+output \d+$/);
  }, 60_000);
});

describe("large values: durable get, history, watch and value", () => {
  it("get prints a large input whole, history and watch name a large result with the command that prints it, and value prints it", async () => {
    const blob = `INPUT-START${"i".repeat(1_200_000)}`;
    await writeFile(join(dir, "big.json"), JSON.stringify({ blob }));
    await ok(["start", "bulky", "--input", "@big.json", "--id", "big-1"]);
    expect(JSON.parse(await ok(["result", "big-1"]))).toEqual({ inputChars: blob.length, reportChars: REPORT.length });

    // The API answers the input by reference; get fetches it.
    expect((await api("GET", "/executions/big-1")).valueRefs).toMatchObject({ input: { name: "input", bytes: blob.length + 11 } });
    // Checked as booleans: a failure should not print megabytes.
    expect((await ok(["get", "big-1"])).includes(`\ninput       {\n              "blob": "${blob}"\n            }\noutput      {"inputChars":`)).toBe(true);
    expect(JSON.parse(await ok(["get", "big-1", "--json"])).input.blob === blob).toBe(true);

    const timeline = lines(await ok(["history", "big-1"]));
    expect(timeline[1]).toMatch(/ExecutionStarted +bulky +v1, run 1, input: 1\.2 MB \(durable value big-1 1\.input to print it\)$/);
    expect(timeline[2]).toMatch(/StepCompleted +report +\S+ +1 {2}result: 1\.5 MB \(durable value big-1 2\.result to print it\)$/);
    const watched = lines(await ok(["watch", "big-1"]));
    expect(watched.slice(0, 2)).toEqual(timeline.slice(1, 3));

    expect((await ok(["value", "big-1", "2.result"])) === `${JSON.stringify(REPORT)}\n`).toBe(true);
    expect((await ok(["value", "big-1", "1.input", "--json"])) === `${JSON.stringify({ blob })}\n`).toBe(true);
    expect((await ok(["value", "big-1", "input"])) === `${JSON.stringify({ blob }, null, 2)}\n`).toBe(true);
    // A small value reads the same way.
    expect(JSON.parse(await ok(["value", "big-1", "output"]))).toEqual({ inputChars: blob.length, reportChars: REPORT.length });
  });

  it("watch on a terminal names a large output with the command that prints it, where get prints it whole", async () => {
    const blob = `OUTPUT-START${"o".repeat(1_100_000)}`;
    await writeFile(join(dir, "echo.json"), JSON.stringify(blob));
    await ok(["start", "echo", "--input", "@echo.json", "--id", "echo-1"]);
    const watched = await durable(["watch", "echo-1"], { tty: true });
    expect(watched.code).toBe(EXIT.ok);
    expect(watched.stdout.split("\r\x1b[2K").filter(Boolean).at(-1)).toMatch(/^echo-1 {2}completed · .+\noutput {2}1\.1 MB \(durable value echo-1 output to print it\)\n$/);
    // Checked as a boolean: a failure should not print megabytes.
    expect((await ok(["get", "echo-1"])).includes(`\noutput      "${blob}"\n`)).toBe(true);
  });

  it("value refuses a name of no value with exit 2, and a value the execution does not have with exit 3", async () => {
    await ok(["start", "greet", "--input", '{"name":"Val"}', "--id", "value-1"]);
    await ok(["result", "value-1"]);
    const badName = await durable(["value", "value-1", "results"]);
    expect(badName.code).toBe(EXIT.usage);
    expect(badName.stderr).toMatch(/^durable: INVALID_VALUE_NAME: "results" names no value: .+\n$/);
    const missing = await durable(["value", "value-1", "99.result"]);
    expect(missing).toMatchObject({ code: EXIT.notFound, stdout: "" });
    expect(missing.stderr).toMatch(/^durable: VALUE_NOT_FOUND: .+\n$/);
    expect((await durable(["value", "nope", "input"])).stderr).toBe('durable: EXECUTION_NOT_FOUND: no execution with id "nope"\n');
  });
});

describe("durable signal, result, cancel, terminate and redrive", () => {
  it("signals with --data @file, then result prints the output as JSON", async () => {
    await ok(["start", "approval", "--input", '{"request":"laptop"}', "--id", "signal-1"]);
    await writeFile(join(dir, "decision.json"), '{"approved":true}');
    const sent = await ok(["signal", "signal-1", "decision", "--data", "@decision.json"]);
    expect(sent).toMatch(/^sent "decision" to signal-1 \(signal \S+\)\n$/);
    expect(JSON.parse(await ok(["result", "signal-1", "--timeout", "20s"]))).toEqual({ request: "laptop", approved: true });
  });

  it("cancels: result then exits 1 with EXECUTION_CANCELED, and a second cancel is a conflict", async () => {
    await ok(["start", "approval", "--input", '{"request":"chair"}', "--id", "cancel-1"]);
    expect(await ok(["cancel", "cancel-1", "--reason", "not needed"])).toBe("cancel requested: cancel-1 ends canceled at its next durable call\n");
    const result = await durable(["result", "cancel-1"]);
    expect(result).toMatchObject({ code: EXIT.executionUnsuccessful, stdout: "", stderr: 'durable: EXECUTION_CANCELED: execution "cancel-1" was canceled\n' });
    const again = await durable(["cancel", "cancel-1"]);
    expect(again.code).toBe(EXIT.conflict);
    expect(again.stderr).toMatch(/^durable: EXECUTION_ENDED: .+\n$/);
    expect(lines(await ok(["history", "cancel-1"])).some((line) => /CancelRequested\s+reason "not needed"$/.test(line))).toBe(true);
  });

  it("terminates: the execution ends terminated and result exits 1", async () => {
    await ok(["start", "approval", "--input", '{"request":"lamp"}', "--id", "terminate-1"]);
    expect(JSON.parse(await ok(["terminate", "terminate-1", "--reason", "bad deploy", "--json"]))).toEqual({ id: "terminate-1", terminated: true });
    const result = await durable(["result", "terminate-1", "--json"]);
    expect(result.code).toBe(EXIT.executionUnsuccessful);
    expect(result.stderr).toMatch(/^durable: EXECUTION_TERMINATED: execution "terminate-1" was terminated/);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: "terminate-1", status: "terminated" });
    expect((await durable(["terminate", "terminate-1"])).code).toBe(EXIT.conflict);
  });

  it("redrives a failed execution to completion, and refuses one that has not failed with exit 4", async () => {
    parserFixed = false;
    await ok(["start", "parser", "--input", '{"text":"a b c"}', "--id", "redrive-1"]);
    expect((await durable(["result", "redrive-1"])).code).toBe(EXIT.executionUnsuccessful);

    parserFixed = true;
    expect(await ok(["redrive", "redrive-1"])).toMatch(/^redriven redrive-1: it runs again from where it failed \(redrive 1, run 1\)\n$/);
    expect(JSON.parse(await ok(["result", "redrive-1"]))).toEqual({ count: 3 });

    const refused = await durable(["redrive", "redrive-1"]);
    expect(refused.code).toBe(EXIT.conflict);
    expect(refused.stderr).toMatch(/^durable: EXECUTION_NOT_FAILED: .+\n$/);
  });
});

describe("durable bulk", () => {
  it("terminates every sleeping execution with a tag as a job, waiting for it to finish, and refuses a bad action", async () => {
    for (const i of [1, 2, 3]) await ok(["start", "approval", "--input", '{"request":"r"}', "--id", `bulk-${i}`, "--tag", "batch=b1"]);
    for (const i of [1, 2, 3]) {
      for (let t = 0; t < 100 && JSON.parse(await ok(["get", `bulk-${i}`, "--json"])).status !== "sleeping"; t += 1) await new Promise((r) => setTimeout(r, 50));
    }
    const out = await ok(["bulk", "terminate", "--tag", "batch=b1", "--status", "sleeping", "--rate", "100", "--reason", "test", "--json"]);
    expect(JSON.parse(out)).toMatchObject({ matched: 3, done: 3, skipped: 0, failed: 0, finished: true });
    for (const i of [1, 2, 3]) expect(JSON.parse(await ok(["get", `bulk-${i}`, "--json"])).status).toBe("terminated");
    expect((await durable(["bulk", "delete", "--tag", "batch=b1"])).code).toBe(EXIT.usage);
  });
});

describe("durable watch", () => {
  it("piped, prints one line per history event as it comes, and exits 0 when the execution completes", async () => {
    await ok(["start", "napper", "--input", '{"ms":600}', "--id", "watch-1"]);
    const watched = await durable(["watch", "watch-1"]);
    expect(watched.code).toBe(EXIT.ok);
    expect(watched.stderr).toBe("");
    const kinds = lines(watched.stdout).map((line) => line.trim().split(/\s+/).slice(0, 3));
    expect(kinds.map(([seq, , kind]) => [Number(seq), kind])).toEqual([
      [1, "ExecutionStarted"],
      [2, "StateSet"],
      [3, "TimerStarted"],
      [4, "TimerFired"],
      [5, "StepCompleted"],
      [6, "ExecutionCompleted"],
    ]);
    // The timer's line shows how long the nap took, measured from its TimerStarted.
    const fired = lines(watched.stdout)[3] ?? "";
    const took = /TimerFired\s+nap\s+(\d+)ms/.exec(fired) ?? /TimerFired\s+nap\s+(\d+\.\d)s/.exec(fired);
    expect(took, fired).not.toBeNull();
  });

  it("exits 1 for a failed execution, and --json prints the events as JSON lines", async () => {
    await ok(["start", "fragile", "--input", '{"reason":"watch me fail"}', "--id", "watch-2"]);
    const watched = await durable(["watch", "watch-2", "--json"]);
    expect(watched.code).toBe(EXIT.executionUnsuccessful);
    const events = jsonLines(watched.stdout);
    expect(events.map((event) => event.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events.at(-1)).toMatchObject({ type: "ExecutionFailed" });
  });

  it("on a terminal, rewrites one progress line with the status, the last event, the time and the state", async () => {
    await ok(["start", "approval", "--input", '{"request":"pen"}', "--id", "watch-tty"]);
    const watching = durable(["watch", "watch-tty"], { tty: true });
    // The watch holds this process's stdout until it returns: talk to the API directly meanwhile.
    await until(async () => (await api("GET", "/executions/watch-tty")).status === "sleeping");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await api("POST", "/executions/watch-tty/signals/decision", { approved: true });
    const watched = await watching;
    expect(watched.code).toBe(EXIT.ok);
    const frames = watched.stdout.split("\r\x1b[2K").filter(Boolean);
    expect(frames.some((frame) => /^watch-tty {2}sleeping · #\d+ SignalWaitStarted "decision" · \d+(ms|\.\ds) · state \{"stage":"waiting for a decision"\}$/.test(frame))).toBe(true);
    expect(frames.at(-1)).toMatch(/^watch-tty {2}completed · #\d+ ExecutionCompleted · \d+(ms|\.\ds) · state .+\noutput {2}\{"request":"pen","approved":true\}\n$/);
  });
});

describe("errors and exit codes", () => {
  it("an unknown id prints one line with the API's code and exits 3", async () => {
    for (const command of [["get", "nope"], ["history", "nope"], ["watch", "nope"], ["result", "nope"], ["signal", "nope", "go"], ["cancel", "nope"]]) {
      const ran = await durable(command);
      expect(ran, command.join(" ")).toEqual({ code: EXIT.notFound, stdout: "", stderr: 'durable: EXECUTION_NOT_FOUND: no execution with id "nope"\n' });
    }
  });

  it("a bad value exits 2 in one line, an id taken by another input exits 4, an unregistered workflow exits 3", async () => {
    const badJson = await durable(["start", "greet", "--input", "{name: Ada}"]);
    expect(badJson.code).toBe(EXIT.usage);
    expect(badJson.stderr).toMatch(/^durable: INVALID_JSON: --input is not JSON \(.+\); quote it for the shell .+\n$/);
    const noFile = await durable(["start", "greet", "--input", "@missing.json"]);
    expect(noFile.code).toBe(EXIT.usage);
    expect(noFile.stderr).toContain("durable: FILE_NOT_FOUND: --input: cannot read ");
    const badTimeout = await durable(["result", "x", "--timeout", "30"]);
    expect(badTimeout.code).toBe(EXIT.usage);
    expect(badTimeout.stderr).toBe("durable: option '--timeout <duration>' argument '30' is invalid. Give a unit: 30s, 30m, 30ms. (see durable result --help)\n");
    expect((await durable(["list", "--status", "asleep"])).code).toBe(EXIT.usage);

    await ok(["start", "greet", "--input", '{"name":"Di"}', "--id", "taken-1"]);
    const taken = await durable(["start", "greet", "--input", '{"name":"Ed"}', "--id", "taken-1"]);
    expect(taken.code).toBe(EXIT.conflict);
    expect(taken.stderr).toMatch(/^durable: EXECUTION_EXISTS: .+\n$/);

    const unknown = await durable(["start", "no-such-workflow"]);
    expect(unknown.code).toBe(EXIT.notFound);
    expect(unknown.stderr).toMatch(/^durable: WORKFLOW_NOT_FOUND: .+\n$/);
  });

  it("result --timeout exits 6 when the execution has not ended, and leaves it running", async () => {
    await ok(["start", "approval", "--input", '{"request":"slow"}', "--id", "timeout-1"]);
    const ran = await durable(["result", "timeout-1", "--timeout", "300ms"]);
    expect(ran.code).toBe(EXIT.timeout);
    expect(ran.stderr).toMatch(/^durable: RESULT_TIMEOUT: execution "timeout-1" had not ended after 300 ms/);
    expect((await durable(["watch", "timeout-1", "--timeout", "300ms"])).code).toBe(EXIT.timeout);
    expect(JSON.parse(await ok(["get", "timeout-1", "--json"]))).toMatchObject({ status: "sleeping" });
  });
});

describe("where the commands connect", () => {
  it("--url with --token reaches that API; a wrong token exits 5 with UNAUTHORIZED", async () => {
    await ok(["start", "greet", "--input", '{"name":"Url"}', "--id", "url-1"]);
    const reached = await durable(["get", "url-1", "--json", "--url", stack.apiUrl, "--token", stack.bearerToken], { env: {} });
    expect(reached.code).toBe(0);
    expect(JSON.parse(reached.stdout)).toMatchObject({ id: "url-1" });

    const wrong = await durable(["get", "url-1", "--url", stack.apiUrl, "--token", "wrong-token"], { env: {} });
    expect(wrong.code).toBe(EXIT.unreachable);
    expect(wrong.stderr).toMatch(/^durable: UNAUTHORIZED: .+\n$/);

    // DURABLE_TOKEN goes with DURABLE_URL; --token wins over it.
    expect((await durable(["get", "url-1"], { env: { DURABLE_URL: stack.apiUrl, DURABLE_TOKEN: "wrong-token" } })).code).toBe(EXIT.unreachable);
    expect((await durable(["get", "url-1", "--token", stack.bearerToken], { env: { DURABLE_URL: stack.apiUrl, DURABLE_TOKEN: "wrong-token" } })).code).toBe(0);
  });

  it("--url without a token signs with IAM: it needs a region, then sends SigV4 (which the local API refuses)", async () => {
    const noRegion = await durable(["get", "x", "--url", stack.apiUrl], { env: {} });
    expect(noRegion).toMatchObject({ code: EXIT.unreachable, stdout: "" });
    expect(noRegion.stderr).toMatch(/^durable: NO_REGION: no AWS region to sign requests to 127\.0\.0\.1 with \(no --token, so IAM auth\); pass --region or set AWS_REGION, or pass --token for a bearer token\n$/);

    const signed = await durable(["get", "x", "--url", stack.apiUrl, "--region", "eu-west-1"], {
      env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
    });
    expect(signed.code).toBe(EXIT.unreachable);
    expect(signed.stderr).toMatch(/^durable: UNAUTHORIZED: /);
  });

  it("without --url, finds the durable dev through .durable/dev.json from a subfolder", async () => {
    const project = join(dir, "dev-project");
    const deep = join(project, "src", "flows");
    await mkdir(deep, { recursive: true });
    await writeDiscovery(project, { url: stack.apiUrl, token: stack.bearerToken, pid: process.pid, startedAt: new Date().toISOString() });
    await ok(["start", "greet", "--input", '{"name":"Dev"}', "--id", "dev-1"]);

    const listed = await durable(["list", "--workflow", "greet", "--json", "--limit", "100"], { cwd: deep, env: {} });
    expect(listed.code).toBe(0);
    expect(jsonLines(listed.stdout).map((execution) => execution.id)).toContain("dev-1");
  });

  it("refuses a discovery file whose durable dev is gone, or does not answer, and says what to do when there is none", async () => {
    const stale = join(dir, "stale-project");
    await mkdir(join(stale, "sub"), { recursive: true });
    const deadPid = await exitedPid();
    await writeDiscovery(stale, { url: stack.apiUrl, token: stack.bearerToken, pid: deadPid, startedAt: "2026-01-01T00:00:00.000Z" });
    const refused = await durable(["list"], { cwd: join(stale, "sub"), env: {} });
    expect(refused).toMatchObject({ code: EXIT.unreachable, stdout: "" });
    expect(refused.stderr).toBe(
      `durable: NO_DEV_SERVER: no durable dev running: ${join(stale, ".durable", "dev.json")} names pid ${deadPid} (started 2026-01-01T00:00:00.000Z), which is not running; start one with "npx durable dev", or pass --url\n`,
    );

    const silent = join(dir, "silent-project");
    await writeDiscovery(silent, { url: "http://127.0.0.1:9", token: "t", pid: process.pid, startedAt: new Date().toISOString() });
    const unanswered = await durable(["list"], { cwd: silent, env: {} });
    expect(unanswered.code).toBe(EXIT.unreachable);
    expect(unanswered.stderr).toMatch(/^durable: NO_DEV_SERVER: the durable dev of .+ \(pid \d+\) does not answer at http:\/\/127\.0\.0\.1:9: .+; restart it with "npx durable dev", or pass --url\n$/);

    const empty = join(dir, "no-project");
    await mkdir(empty, { recursive: true });
    const none = await durable(["get", "x"], { cwd: empty, env: {} });
    expect(none).toEqual({
      code: EXIT.unreachable,
      stdout: "",
      stderr: `durable: NO_DEV_SERVER: no durable dev found (looked for .durable/dev.json from ${empty} up); start one with "npx durable dev", or pass --url\n`,
    });
  });
});

async function writeDiscovery(project: string, discovery: { url: string; token: string; pid: number; startedAt: string }): Promise<void> {
  await mkdir(join(project, ".durable"), { recursive: true });
  await writeFile(join(project, ".durable", "dev.json"), JSON.stringify(discovery), { mode: 0o600 });
}

/** The pid of a process that has exited. */
async function exitedPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid;
  await new Promise((resolve) => child.once("exit", resolve));
  if (pid === undefined) throw new Error("no pid");
  return pid;
}

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.bearerToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

async function until(probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
