/**
 * Large values through the client against the real local stack (the API handler over HTTP,
 * DynamoDB Local, the SQS and S3 emulator, the worker): a value over 1 000 000 bytes of JSON is
 * answered by reference, and the client fetches it part by part: `result()` and `get()` give the
 * values whole, `get(…, { values: "refs" })` and `history()` give the references, `value()`
 * reads any of them exactly, multi-byte characters cut across parts included.
 */
import { inject } from "vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type DurableClient, InvalidRequestError, NotFoundError, type StartedExecution } from "../../lambdas/client/index.js";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { VALUE_PART_BYTES } from "../../lambdas/engine/values.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { uniqueName } from "../support/services.js";

/** `length` characters that say where they are ("0;1;2;…"), so a part out of place or missing shows. */
function counting(length: number): string {
  let text = "";
  for (let i = 0; text.length < length; i += 1) text += `${i};`;
  return text.slice(0, length);
}

const STEP_RESULT_CHARS = 3_000_000;
const OUTPUT_CHARS = 2_500_000;

const large = defineWorkflow("client-large", async (ctx, input: { text: string }) => {
  const counted = await ctx.step("count", () => counting(STEP_RESULT_CHARS));
  return { head: counted.slice(0, OUTPUT_CHARS), inputChars: input.text.length };
});

/** 9 bytes of UTF-8 in 3 characters (2, 3 and 4 bytes): about 2.7 MB, two parts. */
const input = { text: "é€😀".repeat(300_000) };
const output = { head: counting(OUTPUT_CHARS), inputChars: input.text.length };

let stack: LocalStack;
let client: DurableClient;
let run: StartedExecution<{ text: string }, { head: string; inputChars: number }>;

beforeAll(async () => {
  stack = await startLocalStack({
    workflows: [large],
    endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
    tableName: uniqueName("client-values"),
    queueName: uniqueName("client-values"),
    visibilityTimeoutSeconds: 2,
    viewer: false,
  });
  client = createClient({ url: stack.apiUrl, auth: { type: "bearer", token: stack.bearerToken }, retry: { initialDelayMs: 50 } });
  run = await client.start(large, input, { id: "client-large-1" });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

function bytesOf(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}

describe("large values through the client", () => {
  it("start() gives the new execution with its input, though the API answered it by reference", async () => {
    expect(run.created).toBe(true);
    expect(run.execution.input).toStrictEqual(input);
    expect(run.execution).not.toHaveProperty("valueRefs");
  });

  it("result() returns the whole 2.5 MB output", async () => {
    const result = await client.result(run, { timeoutMs: 60_000 });
    expect(result.head.length).toBe(OUTPUT_CHARS);
    expect(result).toStrictEqual(output);
  });

  it("get() has the input and output as values; { values: 'refs' } keeps the references the API sent", async () => {
    await client.result(run, { timeoutMs: 60_000 });
    const execution = await client.get(run);
    expect(execution).toMatchObject({ id: run.id, status: "completed" });
    expect(execution.input).toStrictEqual(input);
    expect(execution.output).toStrictEqual(output);
    expect(execution).not.toHaveProperty("valueRefs");

    const asAnswered = await client.get(run, { values: "refs" });
    expect(asAnswered).not.toHaveProperty("input");
    expect(asAnswered).not.toHaveProperty("output");
    expect(asAnswered.valueRefs).toEqual({
      input: { name: "input", bytes: bytesOf(input), parts: 2, href: `/executions/${run.id}/values/input` },
      output: { name: "output", bytes: bytesOf(output), parts: 2, href: `/executions/${run.id}/values/output` },
    });
    // A repeat of the start fetches what the existing execution holds.
    const again = await client.start(large, input, { id: run.id });
    expect(again.created).toBe(false);
    expect(again.execution.input).toStrictEqual(input);
    expect(again.execution.output).toStrictEqual(output);
  });

  it("history() leaves the 3 MB step result as valueRefs.result; value(run, ref) returns it exactly", async () => {
    await client.result(run, { timeoutMs: 60_000 });
    const { events } = await client.history(run);
    const step = events.find((e) => e.type === "StepCompleted");
    if (step?.type !== "StepCompleted") throw new Error("no StepCompleted in the history");
    expect(step).not.toHaveProperty("result");
    const ref = step.valueRefs?.result;
    expect(ref).toEqual({ name: `${step.seq}.result`, bytes: STEP_RESULT_CHARS + 2, parts: 2, href: `/executions/${run.id}/values/${step.seq}.result` });
    if (ref === undefined) throw new Error("no reference");
    const result = await client.value<string>(run, ref);
    expect(result.length).toBe(STEP_RESULT_CHARS);
    expect(result === counting(STEP_RESULT_CHARS)).toBe(true);
    // By name, the same value.
    expect((await client.value<string>(run.id, ref.name)) === result).toBe(true);
    // An event's references are its own (`<seq>.<field>`), even of the execution's input and output.
    const started = events.find((e) => e.type === "ExecutionStarted");
    const completed = events.find((e) => e.type === "ExecutionCompleted");
    expect(started).toMatchObject({ seq: 1, valueRefs: { input: { name: "1.input", bytes: bytesOf(input), parts: 2 } } });
    expect(completed).toMatchObject({ valueRefs: { output: { name: `${completed?.seq}.output`, bytes: bytesOf(output) } } });
    expect(await client.value(run, `${completed?.seq}.output`)).toStrictEqual(output);
  });

  it("multi-byte characters cut across a part boundary round-trip exactly", async () => {
    // The boundary falls inside a character (a continuation byte), so the API cuts before it.
    const json = Buffer.from(JSON.stringify(input));
    expect((json[VALUE_PART_BYTES] as number) & 0xc0).toBe(0x80);
    const fetched = await client.value<{ text: string }>(run, "input");
    expect(fetched.text === input.text).toBe(true);
    expect(fetched).toStrictEqual(input);
  });

  it("a small value is served by the same route; an unknown name is InvalidRequestError or NotFoundError, as other 400s and 404s", async () => {
    const small = await client.start(large, { text: "hi" }, { id: "client-large-small" });
    expect(small.execution).not.toHaveProperty("valueRefs");
    expect(await client.value(small, "input")).toStrictEqual({ text: "hi" });

    const cases: [() => Promise<unknown>, typeof InvalidRequestError | typeof NotFoundError, number, string][] = [
      [() => client.value(run, "7.nothing"), InvalidRequestError, 400, "INVALID_VALUE_NAME"],
      [() => client.value(run, "state"), InvalidRequestError, 400, "INVALID_VALUE_NAME"],
      [() => client.value(run, "9999.result"), NotFoundError, 404, "VALUE_NOT_FOUND"],
      [() => client.value(run, "1.result"), NotFoundError, 404, "VALUE_NOT_FOUND"],
      [() => client.value("client-large-unknown", "input"), NotFoundError, 404, "EXECUTION_NOT_FOUND"],
    ];
    for (const [call, errorClass, status, code] of cases) {
      const err = await call().catch((e: unknown) => e);
      expect(err, code).toBeInstanceOf(errorClass);
      expect(err).toMatchObject({ status, code, origin: "api" });
    }
  });
});
