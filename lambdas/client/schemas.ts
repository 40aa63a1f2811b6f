/**
 * The shape of each route's 2xx answer, checked on the fields the client relies on. Loose
 * objects: fields the API adds later pass through untouched, so an older client keeps working
 * with a newer API. The casts to the typed views are the trust boundary: past it, types hold.
 */
import { z } from "zod";
import type { ExecutionPage, ExecutionWithRefs, HistoryPage, SignalReceipt, WorkflowInfo } from "./types.js";

const SummaryShape = z.looseObject({
  id: z.string(),
  workflow: z.string(),
  version: z.number(),
  // Not an enum: a status a newer API adds must not break reading the execution.
  status: z.string(),
  run: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** What `value()` needs of a reference: the name to ask for, and the size to hold the parts to. */
const ValueRefShape = z.looseObject({ name: z.string(), bytes: z.number().int().nonnegative(), parts: z.number().int().positive() });

/** As the API answers it: a large input or output named in `valueRefs` instead (values.ts resolves them). */
export const executionSchema = SummaryShape.extend({ valueRefs: z.looseObject({ input: ValueRefShape.optional(), output: ValueRefShape.optional() }).optional() }).transform(
  (value) => value as unknown as ExecutionWithRefs,
);

export const executionPageSchema = z
  .looseObject({ executions: z.array(SummaryShape), cursor: z.string().optional() })
  .transform((value) => value as unknown as ExecutionPage);

export const historyPageSchema = z
  .looseObject({
    events: z.array(z.looseObject({ seq: z.number(), type: z.string(), at: z.string(), valueRefs: z.record(z.string(), ValueRefShape).optional() })),
    cursor: z.string().optional(),
  })
  .transform((value) => value as unknown as HistoryPage);

export const workflowsSchema = z
  .looseObject({ workflows: z.array(z.looseObject({ name: z.string(), versions: z.array(z.number()), latest: z.number() })) })
  .transform((value) => value.workflows as WorkflowInfo[]);

export const signalReceiptSchema = z.looseObject({ signalId: z.string() }).transform((value): SignalReceipt => ({ signalId: value.signalId }));

export const cancelAnswerSchema = z.looseObject({ id: z.string(), cancelRequested: z.literal(true) });
export const terminateAnswerSchema = z.looseObject({ id: z.string(), terminated: z.literal(true) });
export const redriveAnswerSchema = z.looseObject({ id: z.string(), run: z.number().int().positive(), redrive: z.number().int().positive() }).transform((v) => ({ id: v.id, run: v.run, redrive: v.redrive }));
export const bulkAnswerSchema = z.looseObject({ id: z.string() });
export const callbackAnswerSchema = z.looseObject({ accepted: z.literal(true) });
export const heartbeatAnswerSchema = z.looseObject({ heartbeatDeadline: z.string().optional() }).transform((value) => (value.heartbeatDeadline === undefined ? {} : { heartbeatDeadline: value.heartbeatDeadline }));
