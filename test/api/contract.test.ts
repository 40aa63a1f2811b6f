/**
 * The API's contract, route by route and error code by error code, over real HTTP against the
 * local stack (DynamoDB Local + the SQS emulator + the worker). Every refused request is checked
 * to leave the table exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_API_VALUE_BYTES } from "../../lambdas/core/limits.js";
import { MAX_REQUEST_BODY_BYTES } from "../../lambdas/handlers/http.js";
import type { LocalStack } from "../../local/stack.js";
import { approval, greet } from "../../examples/index.js";
import { call, expectErrorShape, expectNothingWritten, quiesce, startApiStack, waitForStatus } from "./support.js";

let stack: LocalStack;
/** A completed execution and one sleeping until it gets the `decision` signal. */
const completedId = "contract-completed";
const waitingId = "contract-waiting";

beforeAll(async () => {
  stack = await startApiStack("api-contract", [greet, approval]);
  expect((await call(stack, "POST", "/executions", { body: { workflow: "greet", id: completedId, input: { name: "Ada" } } })).status).toBe(201);
  expect((await call(stack, "POST", "/executions", { body: { workflow: "approval", id: waitingId, input: { request: "r1" } } })).status).toBe(201);
  await waitForStatus(stack, completedId, ["completed"]);
  await waitForStatus(stack, waitingId, ["sleeping"]);
});

afterAll(async () => {
  await stack?.stop();
});

const executionShape = {
  id: expect.any(String),
  workflow: expect.any(String),
  version: expect.any(Number),
  status: expect.any(String),
  run: expect.any(Number),
  createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
  updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
};

describe("POST /executions", () => {
  it("201: starts an execution under a client-given id, with a location header", async () => {
    const answer = await call(stack, "POST", "/executions", { body: { workflow: "greet", id: "contract-start-1", input: { name: "Bo" } } });
    expect(answer.status).toBe(201);
    expect(answer.headers.get("location")).toBe("/executions/contract-start-1");
    expect(answer.headers.get("content-type")).toBe("application/json");
    expect(answer.body).toMatchObject({ ...executionShape, id: "contract-start-1", workflow: "greet", status: "running", input: { name: "Bo" } });
    await waitForStatus(stack, "contract-start-1", ["completed"]);
  });

  it("201: makes an id when none is given", async () => {
    const answer = await call(stack, "POST", "/executions", { body: { workflow: "approval", input: { request: "no-id" } } });
    expect(answer.status).toBe(201);
    expect(answer.body.id).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
    await waitForStatus(stack, answer.body.id, ["sleeping"]);
  });

  it("201: takes application/*+json and a body without a content type", async () => {
    const vendor = await call(stack, "POST", "/executions", {
      body: JSON.stringify({ workflow: "approval", id: "contract-vendor-json", input: { request: "x" } }),
      headers: { "content-type": "application/vnd.api+json; charset=utf-8" },
    });
    expect(vendor.status).toBe(201);
    const bare = await call(stack, "POST", "/executions", {
      body: new TextEncoder().encode(JSON.stringify({ workflow: "approval", id: "contract-no-content-type", input: { request: "y" } })),
    });
    expect(bare.status).toBe(201);
    await waitForStatus(stack, "contract-vendor-json", ["sleeping"]);
    await waitForStatus(stack, "contract-no-content-type", ["sleeping"]);
  });

  it("200: the same id, workflow and input again returns the existing execution and writes nothing", async () => {
    const answer = await expectNothingWritten(stack, () =>
      call(stack, "POST", "/executions", {
        // Same input with its keys in another order is the same input.
        body: JSON.stringify({ input: { name: "Ada" }, id: completedId, workflow: "greet" }),
        headers: { "content-type": "application/json" },
      }),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get("location")).toBeNull();
    expect(answer.body).toMatchObject({ ...executionShape, id: completedId, status: "completed", output: expect.anything() });
  });

  it("409: the same id with another input or workflow is refused and writes nothing", async () => {
    for (const body of [
      { workflow: "greet", id: completedId, input: { name: "Someone else" } },
      { workflow: "approval", id: completedId, input: { name: "Ada" } },
    ]) {
      const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body }));
      expect(answer.status).toBe(409);
      expectErrorShape(answer, "EXECUTION_EXISTS");
      expect(answer.body.error.message).toContain(completedId);
    }
  });

  it.each([
    ["malformed JSON", '{"workflow": "greet",', "INVALID_JSON"],
    ["an empty body", "", "INVALID_JSON"],
    ["an array", "[1,2]", "INVALID_INPUT"],
    ["a wrong type", '{"workflow": 5}', "INVALID_INPUT"],
    ["an unknown key", '{"workflow": "greet", "inptu": {}}', "INVALID_INPUT"],
    ["a version that is not a positive integer", '{"workflow": "greet", "version": 1.5}', "INVALID_INPUT"],
    ["an id outside [A-Za-z0-9_-]", '{"workflow": "greet", "id": "has space"}', "INVALID_INPUT"],
    ["an id longer than 128", `{"workflow": "greet", "id": "${"a".repeat(129)}"}`, "INVALID_INPUT"],
    ["an id in the form the engine gives children (~)", '{"workflow": "greet", "id": "parent~1.0"}', "INVALID_INPUT"],
    ["an id with a dot", '{"workflow": "greet", "id": "a.b"}', "INVALID_INPUT"],
    ["an unknown workflow", '{"workflow": "nope"}', "WORKFLOW_NOT_FOUND"],
    ["an unknown version", '{"workflow": "greet", "version": 99}', "WORKFLOW_NOT_FOUND"],
    ["input nested 65 deep", `{"workflow": "greet", "input": ${"[".repeat(65)}${"]".repeat(65)}}`, "INVALID_INPUT"],
  ])("400: %s (%s is refused, nothing written)", async (_what, body, code) => {
    const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body, headers: { "content-type": "application/json" } }));
    expect(answer.status).toBe(400);
    expectErrorShape(answer, code);
  });

  it("400: input nested 100 000 deep is refused, not a stack overflow", async () => {
    const body = `{"workflow": "greet", "input": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body, headers: { "content-type": "application/json" } }));
    expect(answer.status).toBe(400);
    expectErrorShape(answer, "INVALID_INPUT");
  });

  it("413: an input over the API's value limit names the limit and writes nothing", async () => {
    const body = { workflow: "greet", id: "contract-too-large", input: { name: "x".repeat(MAX_API_VALUE_BYTES) } };
    const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body }));
    expect(answer.status).toBe(413);
    expectErrorShape(answer, "PAYLOAD_TOO_LARGE");
    expect(answer.body.error.message).toContain(String(MAX_API_VALUE_BYTES));
  });

  it.each(["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "multipart/form-data; boundary=x"])(
    "415: content-type %s with a body, nothing written",
    async (contentType) => {
      const body = JSON.stringify({ workflow: "greet", id: "contract-415", input: { name: "x" } });
      const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions", { body, headers: { "content-type": contentType } }));
      expect(answer.status).toBe(415);
      expectErrorShape(answer, "UNSUPPORTED_MEDIA_TYPE");
    },
  );
});

describe("GET /executions/{id}", () => {
  it("200: the execution, with output once completed and no stack anywhere", async () => {
    const answer = await call(stack, "GET", `/executions/${completedId}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ ...executionShape, id: completedId, status: "completed", input: { name: "Ada" } });
    expect(answer.body.output).toMatchObject({ greeting: "Hello, Ada!" });
  });

  it("404: an unknown id", async () => {
    const answer = await call(stack, "GET", "/executions/does-not-exist");
    expect(answer.status).toBe(404);
    expectErrorShape(answer, "EXECUTION_NOT_FOUND");
  });

  it.each(["bad!id", "a%20b", "x".repeat(257)])("400: id %s", async (id) => {
    const answer = await call(stack, "GET", `/executions/${id}`);
    expect(answer.status).toBe(400);
    expectErrorShape(answer, "INVALID_INPUT");
  });
});

describe("GET /executions/{id}/history", () => {
  it("200: pages through the history with cursors, oldest first", async () => {
    const all = await call(stack, "GET", `/executions/${completedId}/history`);
    expect(all.status).toBe(200);
    expect(all.body.cursor).toBeUndefined();
    const events = all.body.events as { seq: number; type: string; at: string }[];
    expect(events[0]).toMatchObject({ seq: 1, type: "ExecutionStarted", at: expect.any(String) });
    expect(events.length).toBeGreaterThan(3);

    const paged: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(stack, "GET", `/executions/${completedId}/history?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.events.length).toBeLessThanOrEqual(2);
      paged.push(...page.body.events);
      cursor = page.body.cursor;
    } while (cursor);
    expect(paged).toEqual(events);
  });

  it("400: a cursor of another execution's history, a forged one, a bad limit or an unknown parameter", async () => {
    const page = await call(stack, "GET", `/executions/${completedId}/history?limit=1`);
    const cursor = page.body.cursor as string;
    const other = await call(stack, "GET", `/executions/${waitingId}/history?cursor=${cursor}`);
    expect(other.status).toBe(400);
    expectErrorShape(other, "INVALID_CURSOR");
    const forged = Buffer.from(JSON.stringify({ h: 1 })).toString("base64url");
    expect((await call(stack, "GET", `/executions/${completedId}/history?cursor=${forged}`)).body.error.code).toBe("INVALID_CURSOR");
    for (const query of ["limit=0", "limit=1001", "limit=abc", "limit=1e2", "lmit=5"]) {
      const answer = await call(stack, "GET", `/executions/${completedId}/history?${query}`);
      expect(answer.status, query).toBe(400);
      expectErrorShape(answer, "INVALID_INPUT");
    }
  });

  it("404: an unknown execution", async () => {
    const answer = await call(stack, "GET", "/executions/nobody/history");
    expect(answer.status).toBe(404);
    expectErrorShape(answer, "EXECUTION_NOT_FOUND");
  });
});

describe("GET /executions", () => {
  it("200: a page of summaries, newest first, without inputs or outputs", async () => {
    const answer = await call(stack, "GET", "/executions?workflow=greet&limit=100");
    expect(answer.status).toBe(200);
    const executions = answer.body.executions as { id: string; createdAt: string }[];
    expect(executions.map((e) => e.id)).toContain(completedId);
    for (const e of executions) {
      expect(e).toMatchObject({ ...executionShape, workflow: "greet" });
      expect(e).not.toHaveProperty("input");
      expect(e).not.toHaveProperty("output");
    }
    const times = executions.map((e) => e.createdAt);
    expect(times).toEqual([...times].sort().reverse());
  });

  it.each(["status=done", "workflow=", "limit=0", "limit=101", "limit=-1", "colour=red", "status=running,failed"])("400: %s", async (query) => {
    const answer = await call(stack, "GET", `/executions?${query}`);
    expect(answer.status).toBe(400);
    expectErrorShape(answer, "INVALID_INPUT");
  });

  it("400: a forged cursor", async () => {
    const answer = await call(stack, "GET", "/executions?cursor=eyJ2IjoxfQ.AAAA");
    expect(answer.status).toBe(400);
    expectErrorShape(answer, "INVALID_CURSOR");
  });
});

describe("POST /executions/{id}/signals/{name}", () => {
  it("202: delivers the signal; the waiting execution goes on with it", async () => {
    expect((await call(stack, "POST", "/executions", { body: { workflow: "approval", id: "contract-signal", input: { request: "deploy" } } })).status).toBe(201);
    await waitForStatus(stack, "contract-signal", ["sleeping"]);
    const answer = await call(stack, "POST", "/executions/contract-signal/signals/decision", { body: { approved: true, by: "ops" } });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ signalId: expect.any(String) });
    const done = await waitForStatus(stack, "contract-signal", ["completed"]);
    expect(done.body.output).toEqual({ request: "deploy", status: "approved", by: "ops" });
  });

  it("404: an unknown execution, nothing written", async () => {
    const answer = await expectNothingWritten(stack, () => call(stack, "POST", "/executions/nobody/signals/decision", { body: { approved: true } }));
    expect(answer.status).toBe(404);
    expectErrorShape(answer, "EXECUTION_NOT_FOUND");
  });

  it("409: an execution that has ended, nothing written", async () => {
    const answer = await expectNothingWritten(stack, () => call(stack, "POST", `/executions/${completedId}/signals/decision`, { body: { approved: true } }));
    expect(answer.status).toBe(409);
    expectErrorShape(answer, "EXECUTION_ENDED");
  });

  it("400: a bad signal name, a malformed %-escape or malformed JSON, nothing written", async () => {
    for (const [path, body] of [
      [`/executions/${waitingId}/signals/has%20space`, "{}"],
      [`/executions/${waitingId}/signals/%E0%A4%A`, "{}"],
      [`/executions/${waitingId}/signals/decision`, "{nope"],
      [`/executions/bad!id/signals/decision`, "{}"],
    ] as const) {
      const answer = await expectNothingWritten(stack, () => call(stack, "POST", path, { body, headers: { "content-type": "application/json" } }));
      expect(answer.status, path).toBe(400);
      expectErrorShape(answer);
    }
  });

  it("413: a payload over the limit, nothing written", async () => {
    const answer = await expectNothingWritten(stack, () =>
      call(stack, "POST", `/executions/${waitingId}/signals/decision`, { body: { blob: "x".repeat(MAX_API_VALUE_BYTES) } }),
    );
    expect(answer.status).toBe(413);
    expectErrorShape(answer, "PAYLOAD_TOO_LARGE");
    expect(answer.body.error.message).toContain(String(MAX_API_VALUE_BYTES));
  });

  it("413: a payload that is larger once written than the request spelled it, nothing written", async () => {
    // `1e5` is 3 bytes in the request and 6 once stored: the limit holds for what is stored.
    const spelled = `[${Array.from({ length: Math.ceil(MAX_API_VALUE_BYTES / 4) }, () => "1e5").join(",")}]`;
    expect(Buffer.byteLength(spelled)).toBeLessThan(MAX_REQUEST_BODY_BYTES);
    const answer = await expectNothingWritten(stack, () =>
      call(stack, "POST", `/executions/${waitingId}/signals/decision`, { body: spelled, headers: { "content-type": "application/json" } }),
    );
    expect(answer.status).toBe(413);
    expectErrorShape(answer, "PAYLOAD_TOO_LARGE");
    expect(answer.body.error.message).toContain(String(MAX_API_VALUE_BYTES));
  });

  it("415: a non-JSON body, nothing written", async () => {
    const answer = await expectNothingWritten(stack, () =>
      call(stack, "POST", `/executions/${waitingId}/signals/decision`, { body: "approved=true", headers: { "content-type": "application/x-www-form-urlencoded" } }),
    );
    expect(answer.status).toBe(415);
    expectErrorShape(answer, "UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("POST /executions/{id}/cancel", () => {
  it("202: the execution is canceled", async () => {
    expect((await call(stack, "POST", "/executions", { body: { workflow: "approval", id: "contract-cancel", input: { request: "r" } } })).status).toBe(201);
    await waitForStatus(stack, "contract-cancel", ["sleeping"]);
    const answer = await call(stack, "POST", "/executions/contract-cancel/cancel", { body: { reason: "changed my mind" } });
    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ id: "contract-cancel", cancelRequested: true });
    await waitForStatus(stack, "contract-cancel", ["canceled"]);
  });

  it("202: without a body", async () => {
    expect((await call(stack, "POST", "/executions", { body: { workflow: "approval", id: "contract-cancel-bare", input: { request: "r" } } })).status).toBe(201);
    await waitForStatus(stack, "contract-cancel-bare", ["sleeping"]);
    expect((await call(stack, "POST", "/executions/contract-cancel-bare/cancel")).status).toBe(202);
    await waitForStatus(stack, "contract-cancel-bare", ["canceled"]);
  });

  it("400 / 404 / 409: an unknown key, an unknown execution, an ended one; nothing written", async () => {
    const cases = [
      [`/executions/${waitingId}/cancel`, { why: "x" }, 400, "INVALID_INPUT"],
      [`/executions/${waitingId}/cancel`, { reason: 5 }, 400, "INVALID_INPUT"],
      ["/executions/nobody/cancel", {}, 404, "EXECUTION_NOT_FOUND"],
      [`/executions/${completedId}/cancel`, {}, 409, "EXECUTION_ENDED"],
    ] as const;
    for (const [path, body, status, code] of cases) {
      const answer = await expectNothingWritten(stack, () => call(stack, "POST", path, { body }));
      expect(answer.status, path).toBe(status);
      expectErrorShape(answer, code);
    }
  });
});

describe("GET /workflows", () => {
  it("200: registered names and versions", async () => {
    const answer = await call(stack, "GET", "/workflows");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      workflows: [
        { name: "approval", versions: [1], latest: 1 },
        { name: "greet", versions: [1], latest: 1 },
      ],
    });
  });
});

describe("routing and auth", () => {
  it("404: an unknown route, nothing written", async () => {
    for (const path of ["/", "/nope", "/executions/a/b/c", "/workflows/greet"]) {
      const answer = await expectNothingWritten(stack, () => call(stack, "POST", path, { body: {} }));
      expect(answer.status, path).toBe(404);
      expectErrorShape(answer, "ROUTE_NOT_FOUND");
    }
  });

  it("405: a known route with another method, with an allow header", async () => {
    const cases = [
      ["DELETE", `/executions/${waitingId}`, "GET"],
      ["PUT", "/executions", "POST, GET"],
      ["GET", `/executions/${waitingId}/cancel`, "POST"],
      ["POST", "/workflows", "GET"],
    ] as const;
    for (const [method, path, allow] of cases) {
      const answer = await expectNothingWritten(stack, () => call(stack, method, path));
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.headers.get("allow")).toBe(allow);
      expectErrorShape(answer, "METHOD_NOT_ALLOWED");
    }
  });

  it("401: no token, nothing written", async () => {
    const answer = await expectNothingWritten(stack, () =>
      call(stack, "POST", "/executions", { body: { workflow: "greet", id: "contract-no-auth", input: { name: "x" } }, token: null }),
    );
    expect(answer.status).toBe(401);
    expectErrorShape(answer, "UNAUTHORIZED");
    expect(answer.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("the table holds what the accepted requests made, and nothing else", async () => {
    const items = await quiesce(stack);
    const ids = new Set(items.filter((i) => i.SK === "META").map((i) => String(i.id)));
    for (const id of ["contract-too-large", "contract-415", "contract-no-auth"]) expect(ids.has(id)).toBe(false);
    expect(ids.has(completedId) && ids.has("contract-start-1") && ids.has("contract-signal")).toBe(true);
  });
});
