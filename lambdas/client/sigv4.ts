/**
 * SigV4 for API Gateway (`execute-api`), with the AWS SDK's own signer. What is signed is exactly
 * what is sent: the same method, path (already percent-encoded), query string, headers and body,
 * so API Gateway computes the same canonical request.
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/** AWS credentials, as the SDK's credential providers return them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS, SSO, a Lambda's role) have one; it is sent as `x-amz-security-token`. */
  sessionToken?: string;
  expiration?: Date;
}

/** Returns credentials when asked; the SDK's providers (`fromIni()`, `defaultProvider()`, ...) are ones. */
export type AwsCredentialProvider = () => Promise<AwsCredentials>;

/** A request about to be sent. `path` and `query` are what goes on the wire. */
export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
}

export interface SignerOptions {
  region: string;
  /** Default `execute-api`. */
  service?: string;
  credentials: AwsCredentials | AwsCredentialProvider;
}

/** Headers to send with `request`, its own plus `authorization`, `x-amz-date` (and the token). */
export type RequestSigner = (request: OutgoingRequest, signingDate?: Date) => Promise<Record<string, string>>;

/**
 * A signer for requests to an API Gateway API.
 * @example
 * const sign = createRequestSigner({ region: "eu-west-1", credentials: fromIni() });
 * const headers = await sign({ method: "GET", url: new URL("https://abc.execute-api.eu-west-1.amazonaws.com/workflows"), headers: {} });
 */
export function createRequestSigner(options: SignerOptions): RequestSigner {
  const signer = new SignatureV4({
    service: options.service ?? "execute-api",
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
    // No x-amz-content-sha256 header: API Gateway does not need it (S3 and Glacier do), and
    // without it the signature is the plain one of AWS's published test vectors.
    applyChecksum: false,
  });
  return async (request, signingDate) => {
    const { url } = request;
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === "" ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query: queryRecord(url.searchParams),
        // fetch sends `host` as url.host (with the port when it is not the default): sign that.
        headers: { ...request.headers, host: url.host },
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      signingDate === undefined ? {} : { signingDate },
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      // fetch sets `host` from the URL, to the value signed above; a second one would be a conflict.
      if (name.toLowerCase() !== "host") headers[name] = value;
    }
    return headers;
  };
}

/**
 * The region of an `https://<api-id>.execute-api.<region>.amazonaws.com` URL (the construct's
 * `apiUrl`), or undefined for other hosts (custom domains, the local stack).
 */
export function regionFromApiHost(hostname: string): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/i.exec(hostname)?.[1]?.toLowerCase();
}

/** Query parameters as the signer takes them; a repeated name becomes a list. */
function queryRecord(params: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of params) {
    const existing = query[name];
    query[name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

/**
 * SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer wants (`new sha256(key?)`,
 * `update`, `digest`). It is what `@smithy/hash-node` does; written here so the client needs no
 * package beyond the signer itself.
 */
class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(this.secret));
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
