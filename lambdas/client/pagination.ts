/**
 * Walks a paged route: asks for the next page while the last one had a `cursor`. Pages can be
 * short, even empty, and still have a cursor (a selective list filter reads a bounded number of
 * index entries per request), so only a missing cursor ends the walk.
 */
export async function* itemsOfPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; cursor?: string }>,
  firstCursor?: string,
): AsyncGenerator<T, void, undefined> {
  let cursor = firstCursor;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.cursor;
  } while (cursor !== undefined);
}
