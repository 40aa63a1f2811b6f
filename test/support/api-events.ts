/** API Gateway (HTTP API, payload v2) events for calling the API handler directly, and its Lambda context. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { createLambdaContext } from "../../local/http-api.js";

export function apiEvent(
  method: string,
  path: string,
  options: { query?: string; body?: unknown; principal?: string; claims?: Record<string, string>; requestId?: string; sourceIp?: string } = {},
): APIGatewayProxyEventV2 {
  const query = options.query ?? "";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: query,
    ...(query === "" ? {} : { queryStringParameters: Object.fromEntries(new URLSearchParams(query)) }),
    headers: options.body === undefined ? {} : { "content-type": "application/json" },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    isBase64Encoded: false,
    requestContext: {
      ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
      http: { method, path, protocol: "HTTP/1.1", sourceIp: options.sourceIp ?? "127.0.0.1", userAgent: "test" },
      ...(options.principal === undefined ? {} : { authorizer: { iam: { userArn: options.principal } } }),
      // API Gateway hands JWT claims over as strings (a list claim as "[a b]").
      ...(options.claims === undefined ? {} : { authorizer: { jwt: { claims: options.claims, scopes: null } } }),
    },
  } as unknown as APIGatewayProxyEventV2;
}

export function apiContext(): Context {
  return createLambdaContext({ functionName: "api", region: "us-east-1", timeoutMs: 10_000 });
}

/** Calls `handler` with the event and gives its structured answer. */
export async function callHandler(
  handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>,
  event: APIGatewayProxyEventV2,
): Promise<APIGatewayProxyStructuredResultV2> {
  return (await handler(event, apiContext())) as APIGatewayProxyStructuredResultV2;
}
