/**
 * The viewer's page, `GET /viewer`. Kept as text in a module (as are its stylesheet and script)
 * so the TypeScript build carries it into `dist/` and the package: the build compiles `.ts` files
 * only, and the package ships nothing from the source folders.
 *
 * Both views are here; the script shows one (`?execution=<id>`: one execution, else the list)
 * and fills it with text nodes only.
 */
export const indexHtml = String.raw`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Executions · durable-aws</title>
  <link rel="icon" href="/viewer/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/viewer/viewer.css">
  <script type="module" src="/viewer/viewer.js"></script>
</head>
<body>
  <header class="masthead">
    <p class="brand"><a href="/viewer">durable-aws</a> viewer</p>
    <p id="api-origin" class="muted"></p>
  </header>

  <main>
    <p id="notice" class="notice" role="status" aria-live="polite" hidden></p>

    <section id="list-view" aria-labelledby="list-title" hidden>
      <h1 id="list-title">Executions</h1>
      <form id="filters" class="filters" action="/viewer" method="get">
        <label>Workflow
          <input name="workflow" list="workflow-names" autocomplete="off" maxlength="128">
        </label>
        <datalist id="workflow-names"></datalist>
        <label>Status
          <select name="status">
            <option value="">any</option>
            <option>running</option>
            <option>sleeping</option>
            <option>completed</option>
            <option>failed</option>
            <option>canceled</option>
            <option>terminated</option>
          </select>
        </label>
        <label>Tag
          <input name="tag" placeholder="key=value" autocomplete="off">
        </label>
        <button type="submit">Filter</button>
        <button type="button" id="refresh-list">Refresh</button>
        <a href="/viewer">Clear filters</a>
      </form>
      <table class="executions">
        <caption class="visually-hidden">Executions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Execution</th>
            <th scope="col">Workflow</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Updated</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody id="executions"></tbody>
      </table>
      <p id="list-empty" class="muted" hidden>No executions match.</p>
      <button type="button" id="more" hidden>Load more</button>
    </section>

    <section id="detail-view" aria-labelledby="detail-title" hidden>
      <p><a href="/viewer">← All executions</a></p>
      <h1 id="detail-title">Execution</h1>
      <dl id="summary" class="summary"></dl>

      <section id="actions-section" aria-labelledby="actions-title" class="actions">
        <h2 id="actions-title">Actions</h2>
        <form id="signal-form" class="action-form">
          <label>Signal name
            <input name="name" required maxlength="128" autocomplete="off">
          </label>
          <label>Payload (JSON; empty sends null)
            <textarea name="payload" rows="2" spellcheck="false"></textarea>
          </label>
          <button type="submit">Send signal</button>
        </form>
        <form id="control-form" class="action-form">
          <label>Reason (optional)
            <input name="reason" maxlength="1024" autocomplete="off">
          </label>
          <button type="button" id="cancel">Cancel</button>
          <button type="button" id="terminate" class="danger">Terminate</button>
          <button type="button" id="redrive">Redrive</button>
        </form>
      </section>

      <section id="error-section" aria-labelledby="error-title" class="failure" hidden>
        <h2 id="error-title">Error</h2>
        <div id="error"></div>
      </section>

      <section id="output-section" aria-labelledby="output-title" hidden>
        <h2 id="output-title">Output</h2>
        <div id="output" class="value"></div>
      </section>

      <section id="state-section" aria-labelledby="state-title" hidden>
        <h2 id="state-title">Published state</h2>
        <pre id="state"></pre>
        <p id="state-updated" class="muted"></p>
      </section>

      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <ol id="timeline" class="timeline"></ol>
      </section>

      <details>
        <summary id="input-title">Input</summary>
        <div id="input" class="value"></div>
      </details>
      <details>
        <summary id="events-title">History events</summary>
        <ol id="events" class="events"></ol>
      </details>
    </section>
  </main>
</body>
</html>
`;
