/**
 * Values the API answers by reference. A value over 1 000 000 bytes of JSON is left out of an
 * execution's view or a history event and named in `valueRefs`; `GET
 * /executions/{id}/values/{name}?part=N` serves it in parts, each a slice of its UTF-8 JSON cut
 * between characters, so the parts' texts joined are its JSON. Every part says how many parts and
 * bytes the value has; a part that says otherwise than the first belongs to another value.
 */
import type { ValuePart } from "./answers.js";
import { ValueChangedError } from "./errors.js";
import type { Execution, ExecutionWithRefs, ValueRef } from "./types.js";

/** Fetches part `part` (0, 1, …) of one value. */
export type PartReader = (part: number) => Promise<ValuePart>;

/** Which value is read, for the errors, and the size a reference read before gave it (when given one). */
export interface ValueTarget {
  executionId: string;
  name: string;
  expected?: Pick<ValueRef, "bytes" | "parts">;
}

/**
 * The whole value, parsed: part 0, then each next one in turn, every part checked against part 0
 * (and part 0 against `expected`). The joined text must have the bytes the parts announced: a
 * slice cut inside a character, or altered on the way, does not.
 */
export async function readValue(target: ValueTarget, readPart: PartReader): Promise<unknown> {
  const changed = (problem: string) => new ValueChangedError(target.executionId, target.name, problem);
  const first = await readPart(0);
  if (first.part !== 0) throw changed(`asked for part 0, the answer is part ${first.part}`);
  const { expected } = target;
  if (expected !== undefined && (first.bytes !== expected.bytes || first.parts !== expected.parts)) {
    throw changed(`the reference said ${sizeOf(expected)}, the value now has ${sizeOf(first)}`);
  }
  const texts = [first.text];
  for (let part = 1; part < first.parts; part += 1) {
    const next = await readPart(part);
    if (next.part !== part || next.parts !== first.parts || next.bytes !== first.bytes) {
      throw changed(`part 0 said ${sizeOf(first)}, part ${part} answered as part ${next.part} of ${sizeOf(next)}`);
    }
    // A value replaced by one of the same size (a new run's input) keeps the counts but not the tag.
    if (first.etag !== undefined && next.etag !== first.etag) throw changed(`part 0 was ${first.etag}, part ${part} is ${next.etag ?? "untagged"}`);
    texts.push(next.text);
  }
  const text = texts.join("");
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes !== first.bytes) throw changed(`the ${first.parts} part${first.parts === 1 ? "" : "s"} add up to ${bytes} bytes, not the ${first.bytes} announced`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw changed("the parts joined are not JSON");
  }
}

/**
 * `view` with each input or output it names in `valueRefs` put in its field, and the reference
 * dropped: from `known` when the caller has the value already, else fetched by `fetchValue`.
 */
export async function resolveValues(
  view: ExecutionWithRefs,
  fetchValue: (ref: ValueRef) => Promise<unknown>,
  known: { input?: unknown } = {},
): Promise<Execution> {
  if (view.valueRefs === undefined) return view as Execution;
  const { input, output, ...others } = view.valueRefs;
  const [inputValue, outputValue] = await Promise.all([
    input === undefined ? view.input : "input" in known ? known.input : fetchValue(input),
    output === undefined ? view.output : fetchValue(output),
  ]);
  const { valueRefs: _refs, ...rest } = view;
  return {
    ...rest,
    input: inputValue,
    ...(outputValue === undefined ? {} : { output: outputValue }),
    // Kept for whatever a newer API names that this client does not resolve.
    ...(Object.keys(others).length === 0 ? {} : { valueRefs: others }),
  };
}

function sizeOf(value: { parts: number; bytes: number }): string {
  return `${value.parts} part${value.parts === 1 ? "" : "s"} of ${value.bytes} bytes in all`;
}
