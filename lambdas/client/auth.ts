/**
 * How requests are authorized: a bearer token (the local stack, or a JWT authorizer in AWS), or
 * SigV4 with AWS credentials (the construct's default, `auth: { type: "iam" }`).
 */
import { CredentialsError, InvalidArgumentError } from "./errors.js";
import { type AwsCredentialProvider, type AwsCredentials, createRequestSigner, type OutgoingRequest, regionFromApiHost } from "./sigv4.js";

/** `Authorization: Bearer <token>`. A function is asked before every request (a JWT that expires). */
export interface BearerAuth {
  type: "bearer";
  token: string | (() => string | Promise<string>);
}

/** SigV4 for `execute-api`. */
export interface IamAuth {
  type: "iam";
  /** Default: from an `*.execute-api.<region>.amazonaws.com` URL, else `AWS_REGION` / `AWS_DEFAULT_REGION`. */
  region?: string;
  /** Default: the standard AWS credential chain (env, SSO, ini files, container and instance roles). */
  credentials?: AwsCredentials | AwsCredentialProvider;
}

export type ClientAuth = BearerAuth | IamAuth;

/** The headers to send with a request: its own plus the authorization. */
export type Authorizer = (request: OutgoingRequest) => Promise<Record<string, string>>;

export function createAuthorizer(auth: ClientAuth, baseUrl: URL): Authorizer {
  switch (auth.type) {
    case "bearer": {
      const { token } = auth;
      return async (request) => ({ ...request.headers, authorization: `Bearer ${typeof token === "function" ? await token() : token}` });
    }
    case "iam": {
      const region = auth.region ?? regionFromApiHost(baseUrl.hostname) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
      if (region === undefined || region === "") {
        throw new InvalidArgumentError(`auth.region is needed to sign for ${baseUrl.host} (or set AWS_REGION)`);
      }
      const sign = createRequestSigner({ region, credentials: checkedCredentials(auth.credentials ?? lazyDefaultCredentials()) });
      return (request) => sign(request);
    }
    default:
      throw new InvalidArgumentError(`auth.type must be "bearer" or "iam", got ${JSON.stringify((auth as { type?: unknown }).type)}`);
  }
}

/**
 * Credentials as the signer asks for them, with a provider's failure (or an answer that is not
 * credentials) turned into a CredentialsError, told apart from the request's own failures.
 */
function checkedCredentials(credentials: AwsCredentials | AwsCredentialProvider): AwsCredentialProvider {
  return async () => {
    try {
      const resolved = typeof credentials === "function" ? await credentials() : credentials;
      if (typeof resolved?.accessKeyId !== "string" || typeof resolved.secretAccessKey !== "string") {
        throw new TypeError("the provider returned no accessKeyId and secretAccessKey");
      }
      return resolved;
    } catch (err) {
      throw new CredentialsError(err);
    }
  };
}

/**
 * The SDK's default credential chain, loaded on the first signed request: the chain pulls in the
 * SSO, ini and metadata providers, which a bearer-token client never needs. `defaultProvider()`
 * caches what it resolved and refreshes it before it expires.
 */
function lazyDefaultCredentials(): AwsCredentialProvider {
  let provider: Promise<AwsCredentialProvider> | undefined;
  return async () => {
    provider ??= import("@aws-sdk/credential-provider-node").then(({ defaultProvider }) => defaultProvider());
    return (await provider)();
  };
}
