/** The import's parser. Shipped with a bug; the package test "deploys" the fix by rewriting this file. */
export function parseRows(rows: number): number {
  throw new Error(`bug: cannot parse ${rows} rows`);
}
