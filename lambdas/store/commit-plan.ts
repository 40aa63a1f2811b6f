/**
 * How a commit batch becomes DynamoDB transactions. One transaction holds at most 100 items and
 * 4 MB; a batch can hold more (a wide fan-out's results, a pile of large signals taken in at
 * once), so it is split, in order, into parts that each fit. What must land together is never
 * split:
 *
 *   - an event with the inbox items it records (a signal is deleted from the inbox in the same
 *     transaction that puts it in history) and the child execution it starts;
 *   - the last event with the execution update and the notice to the parent (the end of a run).
 *
 * A crash between parts leaves a prefix of the batch committed, which is what a shorter turn
 * would have left: history stays contiguous and every inbox item is either in history or still
 * in the inbox.
 */
import type { CommitBatch, ConsumedItem } from "../core/driver.js";
import type { ChildStart } from "../core/run.js";
import { type HistoryEvent, isCallbackEvent } from "../core/events.js";
import { tenantOf } from "../core/tenants.js";

/** What one transaction writes (besides the execution item, which every part checks or updates). */
export interface CommitPart {
  events: HistoryEvent[];
  consumed: ConsumedItem[];
  childStarts: ChildStart[];
  childCancels: string[];
  /** Only on the last part. */
  notifyParent?: CommitBatch["notifyParent"];
  /** Only on the last part. */
  execution?: CommitBatch["execution"];
}

/** DynamoDB's limits, with room for the execution item's own write and attribute overhead. */
/**
 * Whether `batch` may be one conditional put of its only event: nothing else to write (no
 * execution item change, no inbox item, no child, no callback item, no published state) and no
 * inbox condition to check.
 */
export function isLoneAppend(batch: CommitBatch, inboxSeen: number | undefined): boolean {
  const event = batch.events[0];
  return (
    inboxSeen === undefined &&
    batch.events.length === 1 &&
    event !== undefined &&
    !isCallbackEvent(event) &&
    event.type !== "StateSet" &&
    !batch.execution &&
    batch.consumed.length === 0 &&
    batch.childStarts.length === 0 &&
    batch.childCancels.length === 0 &&
    !batch.notifyParent
  );
}

export const PART_LIMITS = { items: 99, bytes: 3_500_000 } as const;

/** Sizes as the store will write them; injected so the plan stays a pure function. */
export interface PartSizes {
  event(event: HistoryEvent): number;
  consumed(item: ConsumedItem): number;
  childStart(start: ChildStart): number;
  childCancel(childId: string): number;
  notifyParent(notice: NonNullable<CommitBatch["notifyParent"]>): number;
}

interface Unit {
  items: number;
  bytes: number;
  part: Omit<CommitPart, "notifyParent" | "execution">;
}

const KEY_BYTES = 200;

/** A child start writes its execution item and first event, and a tenant's child its listing item. */
function childStartItems(childId: string): number {
  return tenantOf(childId) === undefined ? 2 : 3;
}

export function planCommit(batch: CommitBatch, sizes: PartSizes): CommitPart[] {
  const units: Unit[] = [];
  const startsById = new Map(batch.childStarts.map((c) => [c.childId, c]));
  const consumedBySeq = new Map<number, ConsumedItem[]>();
  const unrecorded: ConsumedItem[] = [];
  for (const c of batch.consumed) {
    if (c.seq === undefined) unrecorded.push(c);
    else consumedBySeq.set(c.seq, [...(consumedBySeq.get(c.seq) ?? []), c]);
  }
  for (const event of batch.events) {
    const consumed = consumedBySeq.get(event.seq) ?? [];
    const start = event.type === "ChildStarted" ? startsById.get(event.childId) : undefined;
    if (start) startsById.delete(start.childId);
    units.push({
      items: 1 + consumed.length + (start ? childStartItems(start.childId) : 0) + (isCallbackEvent(event) ? 1 : 0),
      bytes: sizes.event(event) + consumed.reduce((n, c) => n + sizes.consumed(c), 0) + (start ? sizes.childStart(start) : 0),
      part: { events: [event], consumed, childStarts: start ? [start] : [], childCancels: [] },
    });
  }
  // Items with no event of their own (a repeated cancel) and children whose record is not in this
  // batch go first, each a unit of its own (there may be more than one transaction holds); the
  // asks to cancel children go last, before the execution update.
  const first: Unit[] = [
    ...unrecorded.map((c) => ({ items: 1, bytes: sizes.consumed(c), part: { events: [], consumed: [c], childStarts: [], childCancels: [] } })),
    ...[...startsById.values()].map((start) => ({ items: childStartItems(start.childId), bytes: sizes.childStart(start), part: { events: [], consumed: [], childStarts: [start], childCancels: [] } })),
  ];
  units.unshift(...first);
  for (const childId of batch.childCancels) {
    units.push({ items: 2, bytes: sizes.childCancel(childId), part: { events: [], consumed: [], childStarts: [], childCancels: [childId] } });
  }

  const final = {
    items: batch.notifyParent ? 2 : 0,
    bytes: KEY_BYTES + (batch.notifyParent ? sizes.notifyParent(batch.notifyParent) : 0),
  };
  const parts: CommitPart[] = [];
  let current: CommitPart = emptyPart();
  let items = 0;
  let bytes = KEY_BYTES;
  units.forEach((unit, index) => {
    const isLast = index === units.length - 1;
    const needItems = items + unit.items + (isLast ? final.items : 0);
    const needBytes = bytes + unit.bytes + (isLast ? final.bytes : 0);
    if (!isEmpty(current) && (needItems > PART_LIMITS.items || needBytes > PART_LIMITS.bytes)) {
      parts.push(current);
      current = emptyPart();
      items = 0;
      bytes = KEY_BYTES;
    }
    current.events.push(...unit.part.events);
    current.consumed.push(...unit.part.consumed);
    current.childStarts.push(...unit.part.childStarts);
    current.childCancels.push(...unit.part.childCancels);
    items += unit.items;
    bytes += unit.bytes;
  });
  if (batch.notifyParent) current.notifyParent = batch.notifyParent;
  if (batch.execution) current.execution = batch.execution;
  parts.push(current);
  return parts;
}

function emptyPart(): CommitPart {
  return { events: [], consumed: [], childStarts: [], childCancels: [] };
}

function isEmpty(part: CommitPart): boolean {
  return part.events.length === 0 && part.consumed.length === 0 && part.childStarts.length === 0 && part.childCancels.length === 0;
}
