/**
 * Reading a value in parts, against a scripted HTTP server: the parts are asked for in order and
 * joined into the value; parts that do not belong together (another count or size than the
 * first, or than the reference), or that do not add up, are a ValueChangedError, not a wrong
 * value; `get()` reads a large input and output, `result()` polls without them and reads the
 * output once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createClient, InvalidArgumentError, NotFoundError, UnexpectedResponseError, ValueChangedError } from "../../lambdas/client/index.js";
import { executionBody, type FakeApi, type ScriptedAnswer, startFakeApi } from "./fake-api.js";

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

function clientOf(fake: FakeApi) {
  return createClient({ url: fake.url, auth: { type: "bearer", token: "t" }, retry: { initialDelayMs: 5, maxDelayMs: 20 } });
}

/** `value`'s JSON cut in `parts` slices of whole characters. */
function slices(value: unknown, parts: number): string[] {
  const chars = [...JSON.stringify(value)];
  const size = Math.ceil(chars.length / parts);
  return Array.from({ length: parts }, (_v, i) => chars.slice(i * size, (i + 1) * size).join(""));
}

/** The answer to `?part=N` of a value cut in `texts`; `say` overrides what the headers announce. */
function partAnswer(texts: string[], part: number, say: { parts?: number; bytes?: number; etag?: string } = {}): ScriptedAnswer {
  return {
    status: 200,
    body: texts[part] ?? "",
    headers: {
      ...(say.etag === undefined ? {} : { etag: say.etag }),
      "content-type": texts.length === 1 ? "application/json" : "text/plain; charset=utf-8",
      "x-durable-value-part": String(part),
      "x-durable-value-parts": String(say.parts ?? texts.length),
      "x-durable-value-bytes": String(say.bytes ?? Buffer.byteLength(texts.join(""))),
    },
  };
}

function partOf(rawUrl: string): number {
  return Number(new URL(rawUrl, "http://x").searchParams.get("part"));
}

const value = { text: "é€😀".repeat(50), list: [1, 2, 3], nested: { ok: true } };

describe("value() reads the parts and joins them", () => {
  it("asks for parts 0, 1, 2 in order at the value's route, and returns the value they make", async () => {
    const texts = slices(value, 3);
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl)));
    expect(await clientOf(api).value("run-1", "7.result")).toStrictEqual(value);
    expect(api.requests.map((r) => r.rawUrl)).toEqual(["/executions/run-1/values/7.result?part=0", "/executions/run-1/values/7.result?part=1", "/executions/run-1/values/7.result?part=2"]);
  });

  it("a part that begins with a byte order mark keeps it", async () => {
    const withMark = "ab\uFEFFcd";
    const texts = ['"ab', '\uFEFFcd"'];
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl)));
    expect(await clientOf(api).value("run-1", "input")).toBe(withMark);
  });

  it("a value of one part is the JSON body; a ValueRef is asked for by its name", async () => {
    api = await startFakeApi(() => partAnswer([JSON.stringify(value)], 0));
    const ref = { name: "output", bytes: Buffer.byteLength(JSON.stringify(value)), parts: 1, href: "/executions/run-1/values/output" };
    expect(await clientOf(api).value({ id: "run-1", workflow: "wf" }, ref)).toStrictEqual(value);
    expect(api.requests.map((r) => r.rawUrl)).toEqual(["/executions/run-1/values/output?part=0"]);
  });

  it("a part count that changes between parts is a ValueChangedError naming both, and no later part is asked for", async () => {
    const texts = slices(value, 3);
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl), partOf(req.rawUrl) === 1 ? { parts: 2 } : {}));
    const err = await clientOf(api).value("run-1", "input").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValueChangedError);
    expect(err).toMatchObject({ code: "VALUE_CHANGED", executionId: "run-1", valueName: "input" });
    expect((err as Error).message).toMatch(/^value "input" of execution "run-1" did not read whole: part 0 said 3 parts of \d+ bytes in all, part 1 answered as part 1 of 2 parts/);
    expect(api.requests).toHaveLength(2);
  });

  it("a size that changes between parts, or parts that add up to another size, is a ValueChangedError", async () => {
    const texts = slices(value, 2);
    const bytes = Buffer.byteLength(texts.join(""));
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl), partOf(req.rawUrl) === 1 ? { bytes: bytes + 1 } : {}));
    await expect(clientOf(api).value("run-1", "input")).rejects.toThrow(ValueChangedError);
    await api.close();

    // Every header agrees, and the text is one byte short: a character lost on the way.
    const short = [texts[0] as string, (texts[1] as string).slice(1)];
    api = await startFakeApi((req) => partAnswer(short, partOf(req.rawUrl), { bytes }));
    await expect(clientOf(api).value("run-1", "input")).rejects.toThrow(/add up to \d+ bytes, not the \d+ announced/);
  });

  it("a value replaced by one of the same size between parts (another etag) is a ValueChangedError", async () => {
    const texts = slices(value, 2);
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl), { etag: partOf(req.rawUrl) === 0 ? '"aaa"' : '"bbb"' }));
    await expect(clientOf(api).value("run-1", "input")).rejects.toThrow(/part 0 was "aaa", part 1 is "bbb"/);
    await api.close();
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl), { etag: '"same"' }));
    expect(await clientOf(api).value("run-1", "input")).toStrictEqual(value);
  });

  it("given a ValueRef, a value that is no longer its size is a ValueChangedError", async () => {
    const texts = slices(value, 2);
    api = await startFakeApi((req) => partAnswer(texts, partOf(req.rawUrl)));
    const stale = { name: "input", bytes: 10, parts: 1, href: "/executions/run-1/values/input" };
    await expect(clientOf(api).value("run-1", stale)).rejects.toThrow(/the reference said 1 part of 10 bytes in all, the value now has 2 parts/);
  });

  it("an answer without the value headers is an UnexpectedResponseError; an API error keeps its class; a bad name is refused before sending", async () => {
    api = await startFakeApi((_req, i) =>
      i === 0 ? { status: 200, body: "<html>hello</html>" } : { status: 404, body: { error: { code: "VALUE_NOT_FOUND", message: 'execution "run-1" has no value "9.result"' } } },
    );
    const client = clientOf(api);
    await expect(client.value("run-1", "input")).rejects.toThrow(UnexpectedResponseError);
    const missing = await client.value("run-1", "9.result").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: "VALUE_NOT_FOUND" });
    for (const name of ["", ".."]) await expect(client.value("run-1", name)).rejects.toThrow(InvalidArgumentError);
    expect(api.requests).toHaveLength(2);
  });

  it("a STORE_BUSY on a later part is retried, and the value still reads whole", async () => {
    const texts = slices(value, 3);
    api = await startFakeApi((req, i) => (i === 1 ? { status: 503, body: { error: { code: "STORE_BUSY", message: "busy" } } } : partAnswer(texts, partOf(req.rawUrl))));
    expect(await clientOf(api).value("run-1", "input")).toStrictEqual(value);
    expect(api.requests.map((r) => partOf(r.rawUrl))).toEqual([0, 1, 1, 2]);
  });
});

describe("get(), start() and result() resolve the execution's references", () => {
  const input = { blob: "i".repeat(40) };
  const output = { blob: "o".repeat(40) };
  const refs = {
    input: { name: "input", bytes: Buffer.byteLength(JSON.stringify(input)), parts: 2, href: "/executions/run-1/values/input" },
    output: { name: "output", bytes: Buffer.byteLength(JSON.stringify(output)), parts: 2, href: "/executions/run-1/values/output" },
  };
  const completed = { ...executionBody("run-1", "completed"), input: undefined, valueRefs: refs };

  function serve(view: (i: number) => Record<string, unknown>): (req: { rawUrl: string }, i: number) => ScriptedAnswer {
    return (req, i) => {
      const url = new URL(req.rawUrl, "http://x");
      const name = /\/values\/([^/]+)$/.exec(url.pathname)?.[1];
      if (name === undefined) return { status: 200, body: view(i) };
      return partAnswer(slices(name === "input" ? input : output, 2), partOf(req.rawUrl));
    };
  }

  it("get() fetches both into their fields and drops the references; { values: 'refs' } fetches nothing", async () => {
    api = await startFakeApi(serve(() => completed));
    const client = clientOf(api);
    const execution = await client.get("run-1");
    expect(execution).toMatchObject({ id: "run-1", input, output });
    expect(execution).not.toHaveProperty("valueRefs");
    expect(api.requests.filter((r) => r.rawUrl.includes("/values/"))).toHaveLength(4);

    const before = api.requests.length;
    const asAnswered = await client.get("run-1", { values: "refs" });
    expect(asAnswered.valueRefs).toEqual(refs);
    expect(asAnswered).not.toHaveProperty("input");
    expect(api.requests.length - before).toBe(1);
    await expect(client.get("run-1", { values: "inline" as "refs" })).rejects.toThrow(InvalidArgumentError);
  });

  it("get() reads again when the input changed between the view and its parts (a continue-as-new)", async () => {
    // The first view says 99 bytes, which no part says: the input has changed since.
    const stale = { ...completed, valueRefs: { input: { ...refs.input, bytes: 99 } } };
    api = await startFakeApi(serve((i) => (i === 0 ? stale : completed)));
    expect(await clientOf(api).get("run-1")).toMatchObject({ input, output });
    expect(api.requests.filter((r) => !r.rawUrl.includes("/values/"))).toHaveLength(2);
  });

  it("start() of a new execution takes the input it sent instead of downloading it", async () => {
    api = await startFakeApi(() => ({ status: 201, body: { ...executionBody("run-1", "running"), input: undefined, valueRefs: { input: refs.input } } }));
    const run = await clientOf(api).start("wf", input, { id: "run-1" });
    expect(run.execution.input).toStrictEqual(input);
    expect(run.execution).not.toHaveProperty("valueRefs");
    expect(api.requests).toHaveLength(1);
  });

  it("result() polls without fetching the input, and fetches the output once it has completed", async () => {
    const running = { ...executionBody("run-1", "running"), input: undefined, valueRefs: { input: refs.input } };
    api = await startFakeApi(serve((i) => (i < 2 ? running : completed)));
    expect(await clientOf(api).result("run-1", { pollIntervalMs: 10 })).toStrictEqual(output);
    expect(api.requests.map((r) => r.rawUrl)).toEqual(["/executions/run-1", "/executions/run-1", "/executions/run-1", "/executions/run-1/values/output?part=0", "/executions/run-1/values/output?part=1"]);
  });
});
