/**
 * A schedule's state on DynamoDB: one item (`SCHEDULE#<name>`, META) naming the execution its
 * latest fire started, replaced only by a conditional put, so two fires never both claim it.
 */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { ScheduleState } from "../ports/store.js";
import { META_SK, schedulePk } from "./keys.js";
import type { StoreContext } from "./store-context.js";
import { translate } from "./translate.js";

export async function readScheduleState(ctx: StoreContext, scheduleName: string): Promise<ScheduleState | undefined> {
  const out = await ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: { PK: schedulePk(scheduleName), SK: META_SK }, ConsistentRead: true }));
  if (!out.Item) return undefined;
  return { executionId: String(out.Item.executionId), fireAtMs: Number(out.Item.fireAtMs) };
}

export async function claimScheduleFire(ctx: StoreContext, scheduleName: string, expected: ScheduleState | undefined, next: ScheduleState): Promise<boolean> {
  try {
    await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { PK: schedulePk(scheduleName), SK: META_SK, executionId: next.executionId, fireAtMs: next.fireAtMs },
        ...(expected === undefined
          ? { ConditionExpression: "attribute_not_exists(PK)" }
          : {
              ConditionExpression: "executionId = :executionId AND fireAtMs = :fireAtMs",
              ExpressionAttributeValues: { ":executionId": expected.executionId, ":fireAtMs": expected.fireAtMs },
            }),
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw translate(err, `schedule ${scheduleName}`);
  }
}
