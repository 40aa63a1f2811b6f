/**
 * Size limit of one value the engine records (a step result, an input, an output, a signal
 * payload), as UTF-8 JSON. Every value is stored in one DynamoDB item (400 KB at most), with room
 * left for keys and the event around it.
 */
export const MAX_VALUE_BYTES = 350_000;

const encoder = new TextEncoder();

export function jsonBytes(text: string): number {
  return encoder.encode(text).length;
}
