/**
 * A stand-in for API Gateway with IAM auth in front of a local stack: it checks each request's
 * SigV4 signature (recomputed by test/client/sigv4-verify.ts, which shares no code with the
 * signer), answers an unsigned or wrongly signed one with API Gateway's 403, and passes a good
 * one on to the local API with its bearer token. It records what it saw.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { expectedAuthorization } from "../client/sigv4-verify.js";

export interface FrontCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SeenRequest {
  method: string;
  rawUrl: string;
  verified: boolean;
  /** Why it was refused, when it was. */
  refusal?: string;
  headers: Record<string, string>;
}

export interface SignedFront {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

export async function startSignedFront(options: { apiUrl: string; bearerToken: string; region: string; credentials: FrontCredentials }): Promise<SignedFront> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readText(req);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers[name] = value;
      const refusal = checkSignature({ method: req.method ?? "GET", rawUrl: req.url ?? "/", headers, body }, options);
      seen.push({ method: req.method ?? "GET", rawUrl: req.url ?? "/", verified: refusal === undefined, headers, ...(refusal === undefined ? {} : { refusal }) });
      if (refusal !== undefined) {
        res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ message: "Forbidden" }));
        return;
      }
      const answer = await fetch(`${options.apiUrl}${req.url ?? "/"}`, {
        method: req.method ?? "GET",
        headers: { authorization: `Bearer ${options.bearerToken}`, ...(headers["content-type"] ? { "content-type": headers["content-type"] } : {}) },
        ...(body === "" ? {} : { body }),
      });
      const out: Record<string, string> = { "content-type": answer.headers.get("content-type") ?? "application/json" };
      for (const name of ["location", "allow", "retry-after", "etag", "x-durable-value-bytes", "x-durable-value-part", "x-durable-value-parts"]) {
        const value = answer.headers.get(name);
        if (value !== null) out[name] = value;
      }
      res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
    })().catch((err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function checkSignature(
  request: { method: string; rawUrl: string; headers: Record<string, string>; body: string },
  options: { region: string; credentials: FrontCredentials },
): string | undefined {
  const match = AUTHORIZATION.exec(request.headers.authorization ?? "");
  if (!match) return `no SigV4 authorization header: ${request.headers.authorization ?? "(none)"}`;
  const [, accessKeyId, , region, signedList = ""] = match;
  if (accessKeyId !== options.credentials.accessKeyId) return `signed by ${accessKeyId}`;
  if (region !== options.region) return `signed for ${region}`;
  const signedHeaders = signedList.split(";");
  if (!signedHeaders.includes("host") || !signedHeaders.includes("x-amz-date")) return `host and x-amz-date are not signed: ${signedList}`;
  if (options.credentials.sessionToken !== undefined && request.headers["x-amz-security-token"] !== options.credentials.sessionToken) return "no session token";
  const expected = expectedAuthorization(request, signedHeaders, { ...options.credentials, region: options.region, service: "execute-api" });
  return expected === request.headers.authorization ? undefined : "the signature does not match";
}

function readText(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
