/**
 * The checks of the objects large values went to, against the table as it is at the end, read raw
 * (no store in between):
 *
 * - no dangling reference: every item's `dataRef` names an object in the bucket, under its own
 *   execution and key (`executions/<id>/<SK>-<sha256>`), of `dataBytes` bytes (the scenario
 *   seals with no codec, so an object holds the event's JSON as it is);
 * - orphans (objects no item refers to) are allowed: an object is written before the item that
 *   refers to it, so a write that never landed (a crash in between, a zombie's refused commit)
 *   leaves one, and so does a consumed inbox item (the event went on into history). They are
 *   counted, by what their key says they were for.
 *
 * That every referenced value reads back as what was written is checked on the way: the store the
 * checks read through verifies each object's bytes against the hash in its key, and the parts
 * compare what the workflows saw and what history recorded with what was sent.
 */
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { executionIdFromPk, HISTORY_PREFIX, INBOX_PREFIX } from "../../lambdas/store/keys.js";
import { OBJECT_PREFIX } from "../../lambdas/store/stored-values.js";
import type { Report } from "./part.js";

export interface ObjectCensus {
  /** Items that refer to an object. */
  references: number;
  /** Objects in the bucket under the executions' prefix. */
  objects: number;
  /** Objects no item refers to, by the item they were written for. */
  orphans: { history: number; inbox: number; other: number };
}

interface StoredObject {
  key: string;
  bytes: number;
}

/** Checks every reference in the table against the bucket, and counts the orphans. */
export async function checkStoredObjects(doc: DynamoDBDocumentClient, s3: S3Client, tableName: string, bucket: string, v: Report): Promise<ObjectCensus> {
  const [references, objects] = await Promise.all([scanReferences(doc, tableName), listObjects(s3, bucket)]);
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const referred = new Set<string>();
  for (const item of references) {
    const id = executionIdFromPk(item.PK);
    const where = `${item.SK} refers to object ${item.dataRef}`;
    referred.add(item.dataRef);
    const expectedStart = `${OBJECT_PREFIX}${encodeURIComponent(id)}/${encodeURIComponent(item.SK)}-`;
    if (!item.dataRef.startsWith(expectedStart) || !/^[0-9a-f]{64}$/.test(item.dataRef.slice(expectedStart.length))) {
      v(id, `${where}, which is not named after its execution, its item and a SHA-256 (expected ${expectedStart}<sha256>)`);
    }
    const object = byKey.get(item.dataRef);
    if (object === undefined) {
      // The listing is consistent, but a HEAD settles it before an object is called missing.
      if (!(await exists(s3, bucket, item.dataRef))) v(id, `dangling reference: ${where}, which is not in the bucket`);
      continue;
    }
    if (item.dataBytes !== undefined && object.bytes !== item.dataBytes) v(id, `${where} of ${object.bytes} bytes; the item says ${item.dataBytes}`);
  }
  const orphans = { history: 0, inbox: 0, other: 0 };
  for (const { key } of objects) {
    if (referred.has(key)) continue;
    const sk = skOfKey(key);
    if (sk?.startsWith(HISTORY_PREFIX)) orphans.history += 1;
    else if (sk?.startsWith(INBOX_PREFIX)) orphans.inbox += 1;
    else orphans.other += 1;
  }
  return { references: references.length, objects: objects.length, orphans };
}

/** A phrase for the summary. */
export function describeCensus(census: ObjectCensus): string {
  const { history, inbox, other } = census.orphans;
  if (census.objects === 0 && census.references === 0) return "no objects";
  return (
    `${census.objects} objects, ${census.references} referenced; orphans ${history + inbox + other} ` +
    `(${history} of history writes that did not land, ${inbox} of consumed inbox items${other > 0 ? `, ${other} other` : ""})`
  );
}

/** Every item of the table with a `dataRef`, read consistently. */
async function scanReferences(doc: DynamoDBDocumentClient, tableName: string): Promise<{ PK: string; SK: string; dataRef: string; dataBytes?: number }[]> {
  const found: { PK: string; SK: string; dataRef: string; dataBytes?: number }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: "attribute_exists(dataRef)",
        ProjectionExpression: "PK, SK, dataRef, dataBytes",
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) {
      found.push({
        PK: String(item.PK),
        SK: String(item.SK),
        dataRef: String(item.dataRef),
        ...(item.dataBytes === undefined ? {} : { dataBytes: Number(item.dataBytes) }),
      });
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return found;
}

async function listObjects(s3: S3Client, bucket: string): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: OBJECT_PREFIX, ...(token === undefined ? {} : { ContinuationToken: token }) }));
    for (const o of page.Contents ?? []) if (o.Key !== undefined) objects.push({ key: o.Key, bytes: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (err instanceof Error && (err.name === "NotFound" || err.name === "NoSuchKey"))) return false;
    throw err;
  }
}

/** The item key an object was written for: `executions/<id>/<SK>-<sha256>`. */
function skOfKey(key: string): string | undefined {
  const rest = key.slice(OBJECT_PREFIX.length);
  const slash = rest.indexOf("/");
  const dash = rest.lastIndexOf("-");
  if (slash < 0 || dash < slash) return undefined;
  try {
    return decodeURIComponent(rest.slice(slash + 1, dash));
  } catch {
    return undefined;
  }
}
