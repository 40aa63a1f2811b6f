import { type CfnElement, Stack, Validations } from "aws-cdk-lib";
import type { ITableV2 } from "aws-cdk-lib/aws-dynamodb";
import { type IRole, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { OBJECT_PREFIX } from "../lambdas/store/stored-values.js";

/** A DynamoDB API action as IAM names it, without the `dynamodb:` prefix. */
type TableAction = "GetItem" | "BatchGetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" | "ConditionCheckItem";
/** An SQS API action as IAM names it, without the `sqs:` prefix. */
type QueueAction = "SendMessage" | "ChangeMessageVisibility" | "GetQueueAttributes";
/** What the engine does to a value's object in the payload bucket. */
type ObjectAction = "s3:GetObject" | "s3:PutObject" | "s3:DeleteObject" | "s3:AbortMultipartUpload";
/** What the engine asks of the payload key: a data key to seal a value, the data key back to open one. */
type KeyAction = "kms:GenerateDataKey" | "kms:Decrypt";

/**
 * The encryption context key the engine binds every data key to (its value: the execution id).
 * A data key asked for without it, or with any other key, is refused.
 */
export const PAYLOAD_ENCRYPTION_CONTEXT_KEY = "durable:execution";

/**
 * What one function may do to the table and the queues: the actions its
 * code calls, on the resources it calls them on, nothing else.
 */
export interface FunctionAccess {
  /** Actions on the table itself (items keyed by PK/SK). */
  readonly table: readonly TableAction[];
  /** Indexes the function queries, by name: each becomes one `table/index/<name>` resource. */
  readonly queriedIndexes: readonly string[];
  /** Actions on the wake-up queue, beyond what an event source grants to consume it. */
  readonly queue: readonly QueueAction[];
  readonly deadLetterQueue: readonly QueueAction[];
  /** The payload bucket's objects (under `executions/` only) and the payload key. */
  readonly payloads: {
    readonly objects: readonly ObjectAction[];
    /** `s3:ListBucket`, for keys under `executions/` only: finding an execution's objects to delete them. */
    readonly list: boolean;
    /** Granted only when values are encrypted (there is a payload key). */
    readonly kms: readonly KeyAction[];
  };
}

/** What `grantAccess` grants on. */
export interface AccessResources {
  readonly table: ITableV2;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The construct's own bucket: its logical id names the cdk-nag finding the object grant acknowledges. */
  readonly payloadBucket: Bucket;
  readonly payloadKey?: IKey;
}

/**
 * Grants `role` exactly `access`. TransactWriteItems has no IAM action of
 * its own: IAM authorizes each Put/Update/Delete/ConditionCheck inside the
 * transaction as PutItem/UpdateItem/DeleteItem/ConditionCheckItem, so those
 * are what a transactional caller is granted. SendMessageBatch is
 * authorized as SendMessage.
 */
export function grantAccess(
  role: IRole,
  resources: AccessResources,
  access: FunctionAccess,
): void {
  if (access.table.length > 0) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: access.table.map((a) => `dynamodb:${a}`),
        resources: [resources.table.tableArn],
      }),
    );
  }
  if (access.queriedIndexes.length > 0) {
    // Named indexes, not `index/*`: a function that lists by workflow cannot
    // read the due index, and no resource carries a wildcard.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["dynamodb:Query"],
        resources: access.queriedIndexes.map((name) => `${resources.table.tableArn}/index/${name}`),
      }),
    );
  }
  if (access.queue.length > 0) resources.queue.grant(role, ...access.queue.map((a) => `sqs:${a}`));
  if (access.deadLetterQueue.length > 0) {
    resources.deadLetterQueue.grant(role, ...access.deadLetterQueue.map((a) => `sqs:${a}`));
  }
  grantPayloadAccess(role, resources, access.payloads);
}

/**
 * Object actions on `executions/*` alone (the engine keeps every object there), listing only
 * with a prefix under it, and the key's actions only under the engine's encryption context.
 */
function grantPayloadAccess(role: IRole, resources: AccessResources, payloads: FunctionAccess["payloads"]): void {
  const bucket = resources.payloadBucket;
  if (payloads.objects.length > 0) {
    const objects = `${OBJECT_PREFIX}*`;
    role.addToPrincipalPolicy(new PolicyStatement({ actions: [...payloads.objects], resources: [bucket.arnForObjects(objects)] }));
    // An object's key holds the execution id and a hash of its bytes, known only at run time: no
    // grant can name the objects one by one, and the prefix is as narrow as the engine's keys are.
    const bucketId = Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${objects}]`,
      reason: `the engine's objects are keyed ${OBJECT_PREFIX}<execution id>/<item>-<sha256>, known only at run time; the grant covers that prefix of the payload bucket alone`,
    });
  }
  if (payloads.list) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": `${OBJECT_PREFIX}*` } },
      }),
    );
  }
  if (resources.payloadKey && payloads.kms.length > 0) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...payloads.kms],
        resources: [resources.payloadKey.keyArn],
        conditions: {
          // ForAllValues holds for a request without any context too; Null false demands one.
          "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": [PAYLOAD_ENCRYPTION_CONTEXT_KEY] },
          Null: { "kms:EncryptionContextKeys": "false" },
        },
      }),
    );
  }
}
