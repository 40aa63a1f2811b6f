/**
 * IAM auth: every request the client sends is signed with SigV4 for `execute-api` in the given
 * region with the given credentials, and the signature verifies when recomputed independently
 * (test/client/sigv4-verify.ts) from the request as it arrived. Credentials are injected: no AWS.
 */
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AwsCredentials, createClient, CredentialsError, InvalidArgumentError } from "../../lambdas/client/index.js";
import { createRequestSigner, regionFromApiHost } from "../../lambdas/client/sigv4.js";
import { executionBody, type FakeApi, startFakeApi, type CapturedRequest } from "./fake-api.js";
import { canonicalRequest, expectedAuthorization, type SignedRequestParts } from "./sigv4-verify.js";

const REGION = "eu-west-1";
const CREDENTIALS: AwsCredentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  sessionToken: "FwoGZXIvYXdzEXAMPLE//session+token=",
};

let api: FakeApi;

beforeAll(async () => {
  api = await startFakeApi((req) => {
    if (req.method === "POST" && req.rawUrl === "/executions") return { status: 201, body: executionBody("order-42", "running") };
    if (req.rawUrl.startsWith("/executions?")) return { status: 200, body: { executions: [] } };
    if (req.rawUrl.includes("/signals/")) return { status: 202, body: { signalId: "s-1" } };
    if (req.rawUrl.includes("/history")) return { status: 200, body: { events: [] } };
    if (req.rawUrl === "/workflows") return { status: 200, body: { workflows: [] } };
    return { status: 200, body: executionBody("order-42") };
  });
});

afterAll(async () => {
  await api?.close();
});

function parts(request: CapturedRequest): SignedRequestParts {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (typeof value === "string") headers[name] = value;
  return { method: request.method, rawUrl: request.rawUrl, headers, body: request.body };
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/** Checks one captured request's signature; returns the headers it signed. */
function expectSignedRequest(request: CapturedRequest, credentials: AwsCredentials, region = REGION): string[] {
  const header = request.headers.authorization ?? "";
  const match = AUTHORIZATION.exec(header);
  expect(match, header).not.toBeNull();
  const [, accessKeyId, date, signedRegion, service, signedHeaderList = ""] = match ?? [];
  expect(accessKeyId).toBe(credentials.accessKeyId);
  expect(signedRegion).toBe(region);
  expect(service).toBe("execute-api");
  const amzDate = String(request.headers["x-amz-date"]);
  expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
  expect(amzDate.slice(0, 8)).toBe(date);
  const signedAtMs = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  expect(Math.abs(request.atMs - signedAtMs)).toBeLessThan(5 * 60_000); // API Gateway allows 5 minutes of skew
  const signedHeaders = signedHeaderList.split(";");
  expect(signedHeaders).toEqual([...signedHeaders].sort());
  expect(signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-date"]));
  if (credentials.sessionToken === undefined) {
    expect(request.headers["x-amz-security-token"]).toBeUndefined();
    expect(signedHeaders).not.toContain("x-amz-security-token");
  } else {
    expect(request.headers["x-amz-security-token"]).toBe(credentials.sessionToken);
    expect(signedHeaders).toContain("x-amz-security-token");
  }
  expect(header).toBe(expectedAuthorization(parts(request), signedHeaders, { ...credentials, region, service: "execute-api" }));
  return signedHeaders;
}

describe("SigV4 signing of the client's requests", () => {
  it("a start (POST with a JSON body) is signed for execute-api, the region and the credentials, body and content type included", async () => {
    const client = createClient({ url: api.url, auth: { type: "iam", region: REGION, credentials: CREDENTIALS } });
    const from = api.requests.length;
    const run = await client.start("greet", { name: "Ada Lovelace", note: "ünïcödé & +" }, { id: "order-42" });
    expect(run).toMatchObject({ id: "order-42", created: true });
    const request = api.requests[from];
    if (!request) throw new Error("no request captured");
    const signed = expectSignedRequest(request, CREDENTIALS);
    expect(signed).toContain("content-type");
    expect(JSON.parse(request.body)).toEqual({ workflow: "greet", input: { name: "Ada Lovelace", note: "ünïcödé & +" }, id: "order-42" });
  });

  it("a GET with a query string and a signal whose name needs encoding verify too", async () => {
    const client = createClient({ url: api.url, auth: { type: "iam", region: REGION, credentials: CREDENTIALS } });
    const from = api.requests.length;
    await client.list({ workflow: "greet", status: "failed", limit: 5, cursor: "eyJ2IjoxfQ.abc-_" });
    await client.signal("order-42", "decision:v1.final", { approved: true });
    await client.history("child~1.3", { limit: 10 });
    const sent = api.requests.slice(from);
    expect(sent.map((r) => r.rawUrl)).toEqual([
      "/executions?workflow=greet&status=failed&limit=5&cursor=eyJ2IjoxfQ.abc-_",
      "/executions/order-42/signals/decision%3Av1.final",
      "/executions/child~1.3/history?limit=10",
    ]);
    for (const request of sent) expectSignedRequest(request, CREDENTIALS);
  });

  it("the verifier is not vacuous: another body, path or secret gives another signature", async () => {
    const client = createClient({ url: api.url, auth: { type: "iam", region: REGION, credentials: CREDENTIALS } });
    const from = api.requests.length;
    await client.signal("order-42", "decision", { approved: true });
    const request = api.requests[from];
    if (!request) throw new Error("no request captured");
    const signedHeaders = expectSignedRequest(request, CREDENTIALS);
    const context = { ...CREDENTIALS, region: REGION, service: "execute-api" };
    const header = request.headers.authorization;
    expect(expectedAuthorization({ ...parts(request), body: '{"approved":false}' }, signedHeaders, context)).not.toBe(header);
    expect(expectedAuthorization({ ...parts(request), rawUrl: "/executions/order-43/signals/decision" }, signedHeaders, context)).not.toBe(header);
    expect(expectedAuthorization(parts(request), signedHeaders, { ...context, secretAccessKey: "other" })).not.toBe(header);
    expect(expectedAuthorization(parts(request), signedHeaders, { ...context, region: "us-east-1" })).not.toBe(header);
  });

  it("without a session token none is sent or signed; a credential provider is asked at each request", async () => {
    const longTerm: AwsCredentials = { accessKeyId: "AKIDLONGTERM", secretAccessKey: "long-term-secret" };
    let asked = 0;
    const client = createClient({
      url: api.url,
      auth: {
        type: "iam",
        region: "ap-southeast-2",
        credentials: async () => {
          asked += 1;
          return longTerm;
        },
      },
    });
    const from = api.requests.length;
    await client.workflows();
    await client.get("order-42");
    expect(asked).toBe(2);
    for (const request of api.requests.slice(from)) expectSignedRequest(request, longTerm, "ap-southeast-2");
  });
});

describe("credentials that cannot be had", () => {
  it("a provider that throws, or returns no keys, is a CredentialsError carrying its error, and nothing is sent", async () => {
    const from = api.requests.length;
    const expired = new Error("the SSO session has expired");
    const failing = createClient({ url: api.url, auth: { type: "iam", region: REGION, credentials: () => Promise.reject(expired) } });
    const err = await failing.workflows().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toMatchObject({ code: "CREDENTIALS_UNAVAILABLE", cause: expired });
    expect((err as Error).message).toContain("the SSO session has expired");
    const empty = createClient({ url: api.url, auth: { type: "iam", region: REGION, credentials: async () => ({}) as AwsCredentials } });
    await expect(empty.workflows()).rejects.toBeInstanceOf(CredentialsError);
    expect(api.requests.length).toBe(from);
  });
});

describe("credentials and region by default", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it("with no credentials given, the standard chain is used (here: the AWS_* environment variables)", async () => {
    process.env.AWS_ACCESS_KEY_ID = "AKIDFROMENVIRONMENT";
    process.env.AWS_SECRET_ACCESS_KEY = "secret-from-environment";
    process.env.AWS_SESSION_TOKEN = "token-from-environment";
    process.env.AWS_REGION = "sa-east-1";
    const client = createClient({ url: api.url, auth: { type: "iam" } });
    const from = api.requests.length;
    await client.workflows();
    const request = api.requests[from];
    if (!request) throw new Error("no request captured");
    expectSignedRequest(request, { accessKeyId: "AKIDFROMENVIRONMENT", secretAccessKey: "secret-from-environment", sessionToken: "token-from-environment" }, "sa-east-1");
  });

  it("the region comes from an execute-api URL before the environment; with none anywhere the client refuses to start", () => {
    expect(regionFromApiHost("abc123.execute-api.eu-central-1.amazonaws.com")).toBe("eu-central-1");
    expect(regionFromApiHost("abc123.execute-api.cn-north-1.amazonaws.com.cn")).toBe("cn-north-1");
    expect(regionFromApiHost("api.example.com")).toBeUndefined();
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    expect(() => createClient({ url: "https://api.example.com", auth: { type: "iam", credentials: CREDENTIALS } })).toThrow(InvalidArgumentError);
    expect(() => createClient({ url: "https://abc123.execute-api.eu-central-1.amazonaws.com", auth: { type: "iam", credentials: CREDENTIALS } })).not.toThrow();
  });
});

describe("the signer against AWS's published SigV4 test vectors", () => {
  // aws4_testsuite: get-vanilla and post-vanilla (GET / and POST / to example.amazonaws.com, no
  // body), service "service", us-east-1, 2015-08-30T12:36:00Z, the documented example keys.
  const vectorCredentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
  const signingDate = new Date("2015-08-30T12:36:00Z");
  const vectors = [
    ["GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"],
    ["POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"],
  ] as const;

  it.each(vectors)("%s vanilla: the client's signer gives the published signature", async (method, signature) => {
    const sign = createRequestSigner({ region: "us-east-1", service: "service", credentials: vectorCredentials });
    const headers = await sign({ method, url: new URL("https://example.amazonaws.com/"), headers: {} }, signingDate);
    expect(headers["x-amz-date"]).toBe("20150830T123600Z");
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    );
  });

  it.each(vectors)("%s vanilla: the test's own verifier gives the published signature and canonical request", (method, signature) => {
    const request = { method, rawUrl: "/", headers: { host: "example.amazonaws.com", "x-amz-date": "20150830T123600Z" }, body: "" };
    const emptyHash = createHash("sha256").update("").digest("hex");
    expect(canonicalRequest(request, ["host", "x-amz-date"])).toBe(`${method}\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n${emptyHash}`);
    expect(expectedAuthorization(request, ["host", "x-amz-date"], { ...vectorCredentials, region: "us-east-1", service: "service" })).toContain(
      `Signature=${signature}`,
    );
  });
});
