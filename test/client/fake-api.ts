/**
 * A tiny HTTP server standing in for the API (or for API Gateway in front of it): it answers
 * what the test scripts and keeps every request exactly as it arrived, for the retry and SigV4
 * tests.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface CapturedRequest {
  method: string;
  /** Path and query as sent, still percent-encoded. */
  rawUrl: string;
  headers: IncomingHttpHeaders;
  body: string;
  atMs: number;
}

export interface ScriptedAnswer {
  status: number;
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeApi {
  url: string;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startFakeApi(answer: (request: CapturedRequest, index: number) => ScriptedAnswer): Promise<FakeApi> {
  const requests: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request: CapturedRequest = {
        method: req.method ?? "GET",
        rawUrl: req.url ?? "/",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        atMs: Date.now(),
      };
      requests.push(request);
      const scripted = answer(request, requests.length - 1);
      const text = scripted.body === undefined ? "" : typeof scripted.body === "string" ? scripted.body : JSON.stringify(scripted.body);
      res.writeHead(scripted.status, {
        "content-type": typeof scripted.body === "string" ? "text/plain" : "application/json",
        ...scripted.headers,
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** A valid `GET /executions/{id}` body. */
export function executionBody(id: string, status = "completed", extra: Record<string, unknown> = {}): Record<string, unknown> {
  const at = new Date().toISOString();
  return { id, workflow: "wf", version: 1, status, run: 1, input: null, createdAt: at, updatedAt: at, ...extra };
}
