/**
 * The DynamoDB Local JVM and the SQS emulator that DynamoDB test environments run on, shared:
 * one pair per test run when a global setup started them (their endpoints come in through
 * DURABLE_TEST_DYNAMODB_ENDPOINT and DURABLE_TEST_SQS_ENDPOINT), else one pair per process,
 * started when the first environment needs it and reused by every later one. A JVM takes seconds
 * to start and hundreds of MB to run; an environment only needs its own table and queue.
 */
import { DurableError } from "../../lambdas/core/errors.js";
import type { LocalEndpoints } from "../aws-clients.js";
import { startDynamoDBLocal } from "../dynamodb-local.js";
import { startSqsEmulator } from "../sqs-emulator.js";

/** Where a global setup leaves DynamoDB Local's endpoint for the test workers (`http://127.0.0.1:<port>`). */
export const DYNAMODB_ENDPOINT_VARIABLE = "DURABLE_TEST_DYNAMODB_ENDPOINT";
/** Where a global setup leaves the SQS emulator's endpoint for the test workers. */
export const SQS_ENDPOINT_VARIABLE = "DURABLE_TEST_SQS_ENDPOINT";

/** Endpoints of DynamoDB Local and the SQS emulator. */
export type TestServiceEndpoints = LocalEndpoints;

/** Thrown when only one of the two endpoint variables is set, or one is not a URL. */
export class TestServicesConfigError extends DurableError {
  constructor(
    message: string,
    readonly variable: string,
  ) {
    super("TEST_SERVICES_CONFIG", message, { details: { variable } });
  }
}

interface OwnServices {
  endpoints: TestServiceEndpoints;
  stop(): Promise<void>;
}

/** The services this process started, once asked; a failed start is forgotten so the next call retries. */
let own: Promise<OwnServices> | undefined;
/** True while this process's services are what the endpoint variables name (set by startTestServices). */
let publishedOwn = false;

/**
 * The endpoints a global setup (or the user) put in the environment; undefined when neither
 * variable is set. One without the other is a mistake worth failing on: half a stack would make
 * every environment start a JVM of its own without saying why.
 */
export function endpointsFromEnvironment(env: NodeJS.ProcessEnv = process.env): TestServiceEndpoints | undefined {
  const dynamoEndpoint = env[DYNAMODB_ENDPOINT_VARIABLE];
  const sqsEndpoint = env[SQS_ENDPOINT_VARIABLE];
  if (!dynamoEndpoint && !sqsEndpoint) return undefined;
  for (const [variable, value] of [
    [DYNAMODB_ENDPOINT_VARIABLE, dynamoEndpoint],
    [SQS_ENDPOINT_VARIABLE, sqsEndpoint],
  ] as const) {
    if (!value) throw new TestServicesConfigError(`${variable} is not set but ${variable === DYNAMODB_ENDPOINT_VARIABLE ? SQS_ENDPOINT_VARIABLE : DYNAMODB_ENDPOINT_VARIABLE} is: set both, or neither to let the kit start its own services`, variable);
    if (!URL.canParse(value)) throw new TestServicesConfigError(`${variable} must be a URL such as http://127.0.0.1:8000, got ${JSON.stringify(value)}`, variable);
  }
  return { dynamoEndpoint: dynamoEndpoint as string, sqsEndpoint: sqsEndpoint as string };
}

/**
 * The services environments without `endpoints` use: those named by the environment variables,
 * else this process's own, started on first use.
 */
export async function sharedTestServices(): Promise<TestServiceEndpoints> {
  return endpointsFromEnvironment() ?? (await startOwnServices()).endpoints;
}

/**
 * Starts DynamoDB Local and the SQS emulator for this process (once; later calls get the same
 * ones) and names them in DURABLE_TEST_DYNAMODB_ENDPOINT and DURABLE_TEST_SQS_ENDPOINT, so
 * processes started from here on (vitest's workers) use them too. When those variables already
 * name running services, starts nothing and returns them.
 *
 * @example
 * const { dynamoEndpoint, sqsEndpoint } = await startTestServices();
 * // ... environments created from now on, here or in child processes, share them
 * await stopTestServices();
 */
export async function startTestServices(): Promise<TestServiceEndpoints> {
  if (!publishedOwn) {
    const given = endpointsFromEnvironment();
    if (given) return given;
  }
  const { endpoints } = await startOwnServices();
  process.env[DYNAMODB_ENDPOINT_VARIABLE] = endpoints.dynamoEndpoint;
  process.env[SQS_ENDPOINT_VARIABLE] = endpoints.sqsEndpoint;
  publishedOwn = true;
  return endpoints;
}

/**
 * Stops the services this process started (by startTestServices or on an environment's first
 * use), and takes their endpoints out of the environment variables. Services named by the
 * variables and started elsewhere are left running. Without it they stop when the process exits:
 * DynamoDB Local's JVM is killed on exit, the emulator lives inside the process.
 *
 * @example
 * afterAll(() => stopTestServices());
 */
export async function stopTestServices(): Promise<void> {
  const current = own;
  own = undefined;
  if (publishedOwn) {
    delete process.env[DYNAMODB_ENDPOINT_VARIABLE];
    delete process.env[SQS_ENDPOINT_VARIABLE];
    publishedOwn = false;
  }
  if (!current) return;
  const services = await current.catch(() => undefined);
  await services?.stop();
}

function startOwnServices(): Promise<OwnServices> {
  own ??= launch().catch((error: unknown) => {
    own = undefined;
    throw error;
  });
  return own;
}

async function launch(): Promise<OwnServices> {
  const [dynamo, sqs] = await Promise.allSettled([startDynamoDBLocal(), startSqsEmulator()]);
  if (dynamo.status === "rejected" || sqs.status === "rejected") {
    // Half a stack is no use: stop the half that started, report what failed.
    await Promise.allSettled([dynamo.status === "fulfilled" ? dynamo.value.stop() : undefined, sqs.status === "fulfilled" ? sqs.value.stop() : undefined]);
    throw dynamo.status === "rejected" ? dynamo.reason : (sqs as PromiseRejectedResult).reason;
  }
  return {
    endpoints: { dynamoEndpoint: dynamo.value.endpoint, sqsEndpoint: sqs.value.endpoint },
    stop: async () => {
      await Promise.allSettled([dynamo.value.stop(), sqs.value.stop()]);
    },
  };
}
