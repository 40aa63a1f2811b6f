/**
 * DynamoDB request units as AWS bills them on demand, worked out from the sizes of the items each
 * request touches. DynamoDB Local reports consumed capacity too, but not as AWS counts it (its
 * transactional writes, for one), so the payload benchmark prices what this meter computes.
 *
 * The rules (AWS "DynamoDB read and write capacity", on-demand mode):
 *
 *   PutItem, UpdateItem, DeleteItem,    1 WRU per KB started of the item, the larger of its size
 *   BatchWriteItem (per item)           before and after the write; a failed condition costs the same
 *   TransactWriteItems (per item)       2 WRU per KB started, ConditionCheck included
 *   GetItem, BatchGetItem (per item)    1 RRU per 4 KB started (strongly consistent; half eventually
 *                                       consistent), at least one unit, found or not
 *   Query, Scan                         the same, of the sum of the sizes of the items read
 *   TransactGetItems (per item)         2 RRU per 4 KB started
 *
 * An item's size is its attribute names plus their values: strings and binaries their bytes,
 * numbers one byte per two significant digits plus one, booleans and null one byte, lists and maps
 * three bytes plus their elements and one byte per element. An item's size before an update or a
 * delete is what the update returned (ALL_OLD), else the last size this meter saw for its key (from
 * a write or a read), else 1 KB; after an update, the same unless the update returned ALL_NEW.
 *
 * Not counted: writes to global secondary indexes. Only the execution item is indexed, with small
 * projections: a handful of units per execution, the same whatever the size of the values in history.
 */
import type { MiddlewareClient } from "../lambdas/store/request-meter.js";
const WRITE_UNIT_BYTES = 1024;
const READ_UNIT_BYTES = 4096;
const UNKNOWN_ITEM_BYTES = 1024;
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"]);


type Item = Record<string, unknown>;

/** The bytes DynamoDB counts for an item written or read through the document client (plain values). */
export function itemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    bytes += Buffer.byteLength(name) + valueBytes(value);
  }
  return bytes;
}

function valueBytes(value: unknown): number {
  if (typeof value === "string") return Buffer.byteLength(value);
  if (typeof value === "number" || typeof value === "bigint") return numberBytes(String(value));
  if (typeof value === "boolean" || value === null) return 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (value instanceof Set) return [...value].reduce<number>((sum, member) => sum + valueBytes(member), 0);
  if (Array.isArray(value)) return 3 + value.reduce<number>((sum, element) => sum + valueBytes(element) + 1, 0);
  if (typeof value === "object") {
    const entries = Object.entries(value as Item).filter(([, v]) => v !== undefined);
    return 3 + entries.reduce((sum, [name, v]) => sum + Buffer.byteLength(name) + valueBytes(v) + 1, 0);
  }
  return 0;
}

function numberBytes(text: string): number {
  const digits = text.replace(/^-/, "").replace(/e.*$/i, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

function keyOf(item: Item | undefined): string | undefined {
  if (item === undefined) return undefined;
  const { PK: pk, SK: sk } = item;
  return typeof pk === "string" && typeof sk === "string" ? `${pk}\u0000${sk}` : undefined;
}

function units(bytes: number, unitBytes: number): number {
  return Math.max(1, Math.ceil(bytes / unitBytes));
}

export class BilledUnitMeter {
  writeUnits = 0;
  readUnits = 0;
  /** The last size seen of each item, by key: what an update or a delete is billed on. */
  private readonly sizes = new Map<string, number>();

  /** Installs the meter on a DynamoDB client (the document client shares its middleware stack). */
  attach(client: object): this {
    (client as MiddlewareClient).middlewareStack.add(
      (next, context) => async (args) => {
        const operation = (context.commandName ?? "").replace(/Command$/, "");
        const input = args.input as Item;
        try {
          const result = await next(args);
          this.count(operation, input, result.output as Item);
          return result;
        } catch (err) {
          // A refused conditional write is billed as if it had been made.
          if (WRITES.has(operation)) this.count(operation, input, {}, false);
          throw err;
        }
      },
      { step: "initialize", name: "billedUnitMeter", override: true },
    );
    return this;
  }

  reset(): void {
    this.writeUnits = 0;
    this.readUnits = 0;
  }

  private knownBytes(key: string | undefined): number {
    return (key === undefined ? undefined : this.sizes.get(key)) ?? UNKNOWN_ITEM_BYTES;
  }

  private learn(item: Item | undefined, projected: boolean): number {
    if (item === undefined) return 0;
    const key = keyOf(item);
    const bytes = itemBytes(item);
    // A projection returns part of the item; the whole item is what was read.
    if (projected) return Math.max(bytes, this.knownBytes(key));
    if (key !== undefined) this.sizes.set(key, bytes);
    return bytes;
  }

  private count(operation: string, input: Item, output: Item, landed = true): void {
    const projected = typeof input.ProjectionExpression === "string";
    const consistency = input.ConsistentRead === true ? 1 : 0.5;
    switch (operation) {
      case "PutItem": {
        const item = input.Item as Item;
        const key = keyOf(item);
        const bytes = itemBytes(item);
        this.writeUnits += units(Math.max(bytes, this.sizes.get(key ?? "") ?? 0), WRITE_UNIT_BYTES);
        if (landed && key !== undefined) this.sizes.set(key, bytes);
        return;
      }
      case "UpdateItem": {
        const key = keyOf(input.Key as Item);
        const before = input.ReturnValues === "ALL_OLD" && output.Attributes ? itemBytes(output.Attributes as Item) : this.knownBytes(key);
        const after = input.ReturnValues === "ALL_NEW" && output.Attributes ? itemBytes(output.Attributes as Item) : before;
        this.writeUnits += units(Math.max(before, after), WRITE_UNIT_BYTES);
        if (landed && key !== undefined) this.sizes.set(key, after);
        return;
      }
      case "DeleteItem": {
        const key = keyOf(input.Key as Item);
        this.writeUnits += units(this.knownBytes(key), WRITE_UNIT_BYTES);
        if (landed && key !== undefined) this.sizes.delete(key);
        return;
      }
      case "BatchWriteItem": {
        for (const requests of Object.values((input.RequestItems ?? {}) as Record<string, Item[]>)) {
          for (const request of requests) {
            const put = (request.PutRequest as Item | undefined)?.Item as Item | undefined;
            const deleted = (request.DeleteRequest as Item | undefined)?.Key as Item | undefined;
            this.writeUnits += units(put ? itemBytes(put) : this.knownBytes(keyOf(deleted)), WRITE_UNIT_BYTES);
            if (put) this.learn(put, false);
            else if (deleted) this.sizes.delete(keyOf(deleted) ?? "");
          }
        }
        return;
      }
      case "TransactWriteItems": {
        for (const entry of (input.TransactItems ?? []) as Item[]) {
          const put = (entry.Put as Item | undefined)?.Item as Item | undefined;
          const other = (entry.Update ?? entry.Delete ?? entry.ConditionCheck) as Item | undefined;
          const bytes = put ? Math.max(itemBytes(put), this.sizes.get(keyOf(put) ?? "") ?? 0) : this.knownBytes(keyOf(other?.Key as Item | undefined));
          this.writeUnits += 2 * units(bytes, WRITE_UNIT_BYTES);
          if (!landed) continue;
          if (put) this.learn(put, false);
          else if (entry.Delete) this.sizes.delete(keyOf(other?.Key as Item | undefined) ?? "");
        }
        return;
      }
      case "GetItem": {
        const bytes = this.learn(output.Item as Item | undefined, projected);
        this.readUnits += consistency * units(bytes, READ_UNIT_BYTES);
        return;
      }
      case "BatchGetItem": {
        const requested = (input.RequestItems ?? {}) as Record<string, Item>;
        for (const [table, items] of Object.entries((output.Responses ?? {}) as Record<string, Item[]>)) {
          const tableProjected = typeof requested[table]?.ProjectionExpression === "string";
          const tableConsistency = requested[table]?.ConsistentRead === true ? 1 : 0.5;
          for (const item of items) this.readUnits += tableConsistency * units(this.learn(item, tableProjected), READ_UNIT_BYTES);
        }
        return;
      }
      case "Query":
      case "Scan": {
        const items = (output.Items ?? []) as Item[];
        const bytes = items.reduce((sum, item) => sum + this.learn(item, projected), 0);
        this.readUnits += consistency * units(bytes, READ_UNIT_BYTES);
        return;
      }
      case "TransactGetItems": {
        for (const response of (output.Responses ?? []) as Item[]) this.readUnits += 2 * units(this.learn(response.Item as Item | undefined, false), READ_UNIT_BYTES);
        return;
      }
      default:
        return;
    }
  }
}
