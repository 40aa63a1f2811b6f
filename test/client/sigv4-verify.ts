/**
 * An independent SigV4 check for the tests, written from AWS's description of the algorithm
 * (canonical request → string to sign → HMAC chain), with node:crypto only: it shares no code
 * with the signer under test. It is itself checked against AWS's published test vectors.
 */
import { createHash, createHmac } from "node:crypto";

export interface SignedRequestParts {
  method: string;
  /** Path and query as sent on the wire (percent-encoded). */
  rawUrl: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

export interface SigningContext {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

/** The `Authorization` header the request should carry, for the headers it says it signed. */
export function expectedAuthorization(request: SignedRequestParts, signedHeaders: readonly string[], context: SigningContext): string {
  const amzDate = request.headers["x-amz-date"];
  if (amzDate === undefined) throw new Error("no x-amz-date header");
  const shortDate = amzDate.slice(0, 8);
  const scope = `${shortDate}/${context.region}/${context.service}/aws4_request`;
  const canonical = canonicalRequest(request, signedHeaders);
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  let key: Buffer = hmac(`AWS4${context.secretAccessKey}`, shortDate);
  key = hmac(key, context.region);
  key = hmac(key, context.service);
  key = hmac(key, "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  return `AWS4-HMAC-SHA256 Credential=${context.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`;
}

export function canonicalRequest(request: SignedRequestParts, signedHeaders: readonly string[]): string {
  const queryStart = request.rawUrl.indexOf("?");
  const rawPath = queryStart === -1 ? request.rawUrl : request.rawUrl.slice(0, queryStart);
  const rawQuery = queryStart === -1 ? "" : request.rawUrl.slice(queryStart + 1);
  // Services other than S3: each path segment is encoded twice; the wire form is encoded once.
  const path = rawPath.split("/").map(encode).join("/");
  const query = rawQuery
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const [name = "", value = ""] = pair.split("=");
      return [encode(decodeURIComponent(name)), encode(decodeURIComponent(value))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const headers = signedHeaders.map((name) => `${name}:${(request.headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  return [request.method, path, query, headers, signedHeaders.join(";"), sha256Hex(request.body)].join("\n");
}

function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}
