/**
 * AWS SDK clients pointed at the local stack (DynamoDB Local, and the
 * emulator that serves SQS and S3).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export interface LocalEndpoints {
  dynamoEndpoint: string;
  sqsEndpoint: string;
}

export interface LocalClients {
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
  /** S3 on the emulator's endpoint (path-style: bucket names need no DNS). */
  s3: S3Client;
}

const REGION = "us-east-1";
// Local services accept any signature; fixed keys keep the SDK from looking
// for real credentials (env, ~/.aws, instance metadata).
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };
const MAX_ATTEMPTS = 3;

/**
 * Clients for the local stack.
 *
 * The SQS client must keep `endpoint` set: fauxqs queue URLs name the host
 * `sqs.<region>.localhost`, which does not resolve.
 *
 * @example
 * const { doc, sqs } = localClients({ dynamoEndpoint: ddb.endpoint, sqsEndpoint: queue.endpoint });
 */
export function localClients(endpoints: LocalEndpoints): LocalClients {
  const dynamo = new DynamoDBClient({
    endpoint: endpoints.dynamoEndpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: MAX_ATTEMPTS,
  });
  const doc = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  const sqs = new SQSClient({
    endpoint: endpoints.sqsEndpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: MAX_ATTEMPTS,
  });
  const s3 = new S3Client({
    endpoint: endpoints.sqsEndpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: MAX_ATTEMPTS,
    forcePathStyle: true,
  });
  return { dynamo, doc, sqs, s3 };
}
