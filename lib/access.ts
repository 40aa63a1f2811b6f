import { type IRole, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { ITableV2 } from "aws-cdk-lib/aws-dynamodb";
import type { IQueue } from "aws-cdk-lib/aws-sqs";

/** A DynamoDB API action as IAM names it, without the `dynamodb:` prefix. */
type TableAction = "GetItem" | "BatchGetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" | "ConditionCheckItem";
/** An SQS API action as IAM names it, without the `sqs:` prefix. */
type QueueAction = "SendMessage" | "ChangeMessageVisibility" | "GetQueueAttributes";

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
  resources: { table: ITableV2; queue: IQueue; deadLetterQueue: IQueue },
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
}
