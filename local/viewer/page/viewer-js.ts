/**
 * The viewer's script, `GET /viewer/viewer.js`: a plain ES module for the browser, with no
 * imports and no build step (see index-html.ts for why it is kept in a module). It never runs in
 * Node. Being a raw template, it may hold no backtick and no dollar-brace: it concatenates strings.
 */
export const viewerJs = String.raw`// The durable-aws execution viewer. It talks to the HTTP API on this page's origin (docs/api.md)
// with the bearer token it was handed in the URL's fragment, and puts what the API answers into
// the page as text nodes only: nothing that comes from the API is ever parsed as HTML.

const TOKEN_KEY = "durable-viewer-token";
const POLL_MS = 1500;
const LIST_LIMIT = 20;
const HISTORY_LIMIT = 1000;
const LIVE = new Set(["running", "sleeping"]);

const byId = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
/** The execution this page shows (?execution=<id>); the list when absent. */
const executionId = params.get("execution");
const token = takeToken();

/** The token moves from the fragment into this tab's sessionStorage, and out of the address bar and its history. */
function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    fragment.delete("token");
    const rest = fragment.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest === "" ? "" : "#" + rest));
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

// ---- the API ----

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** One call of the API: the answer and its body's text, or an ApiError for a refusal. */
async function send(method, path, body) {
  const headers = { accept: "application/json" };
  if (token) headers.authorization = "Bearer " + token;
  const init = { method, headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "UNREACHABLE", "the API did not answer (" + err.message + "); is the server still running?");
  }
  const text = await response.text();
  if (!response.ok) {
    const data = parseJson(text);
    // This API answers { error: { code, message } }; API Gateway's own refusals are { message }.
    const error = data && data.error ? data.error : { code: "HTTP_" + response.status, message: (data && data.message) || text || response.statusText };
    throw new ApiError(response.status, error.code, error.message);
  }
  return { response, text };
}

async function api(method, path, body) {
  const { text } = await send(method, path, body);
  return parseJson(text);
}

function parseJson(text) {
  try {
    return text === "" ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

const executionPath = (id) => "/executions/" + encodeURIComponent(id);

// ---- small helpers ----

/** An element with attributes and children; strings become text nodes. */
function h(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat(Infinity).filter((child) => child !== undefined && child !== null && child !== false));
  return node;
}

function notify(message, kind) {
  const notice = byId("notice");
  notice.textContent = message;
  notice.className = kind === "error" ? "notice error" : "notice";
  notice.hidden = false;
}

function notifyError(err) {
  if (!(err instanceof ApiError)) notify(err instanceof Error ? err.message : String(err), "error");
  else if (err.status === 401 || err.status === 403) notify(err.code + ": " + err.message + ". Open the viewer URL that durable dev (or durable viewer) printed: it carries the token.", "error");
  else notify(err.code + ": " + err.message, "error");
}

/** Runs work() with the button disabled; a failure is shown, not thrown. */
async function guarded(button, work) {
  button.disabled = true;
  try {
    return await work();
  } catch (err) {
    notifyError(err);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

function isoText(ms) {
  return new Date(ms).toISOString().replace("T", " ");
}

function timeNode(iso) {
  return iso === undefined ? "" : h("time", { datetime: iso }, isoText(Date.parse(iso)));
}

function duration(ms) {
  const t = Math.max(0, ms);
  if (t < 1000) return Math.round(t) + " ms";
  if (t < 60000) return (t / 1000).toFixed(t < 10000 ? 2 : 1) + " s";
  const s = Math.round(t / 1000);
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

function pretty(value) {
  return value === undefined ? "undefined" : JSON.stringify(value, null, 2);
}

function short(value, max = 160) {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function statusBadge(status) {
  return h("span", { class: "status status-" + status }, status);
}

function errorText(error) {
  if (!error) return "";
  return (error.code ? error.code + ": " : "") + error.message;
}

// ---- large values: an answer names a value over 1 MB of JSON in valueRefs, served in parts ----

/** How much of a loaded value goes into the page: enough to read, little enough not to freeze it. */
const SHOWN_VALUE_CHARS = 200000;
/** Tries at reading a value whole while it changes under the reads (an input at a continue-as-new). */
const VALUE_READS = 3;
/** Values loaded, or being loaded, by name: each render (each poll) shows them again without a fetch. */
const loadedValues = new Map();
/** The run whose input and output loadedValues holds. */
let shownRun;

/** 850 bytes, 12.3 KB, 2.0 MB: powers of 1000, as the API's limits are given. */
function sizeText(bytes) {
  if (bytes < 1000) return bytes + " bytes";
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1000;
  let unit = 0;
  while (unit < units.length - 1 && Math.round(value * 10) >= 10000) {
    value /= 1000;
    unit += 1;
  }
  return value.toFixed(1) + " " + units[unit];
}

/** 1500002 → "1 500 002", as the docs write numbers. */
function grouped(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, " ");
}

/** A value as a block: pretty JSON, or its size and a Load button when the API named it in valueRefs. */
function valueBlock(value, ref) {
  return ref ? valueRefNode(ref) : h("pre", {}, pretty(value));
}

/** Puts a value into container, unless it shows that value already (a poll must not reset a selection or a loaded value). */
function showValue(container, value, ref) {
  const shown = container.firstElementChild;
  if (ref) {
    if (shown && shown.dataset.value === ref.name && shown.dataset.bytes === String(ref.bytes)) return;
  } else if (shown && shown.tagName === "PRE" && shown.textContent === pretty(value)) {
    return;
  }
  container.replaceChildren(valueBlock(value, ref));
}

/** A value on one line after its label, cut to max characters, or its size and a Load button. */
function valueInline(label, value, ref, max) {
  return ref ? [valueRefNode(ref, label)] : [label + " ", h("code", {}, short(value, max))];
}

/** The references of an event's values, by field ({} when every value is inline). */
function refsOf(item) {
  return (item && item.valueRefs) || {};
}

function valueRefNode(ref, label) {
  const node = h("div", { class: "value-ref", "data-value": ref.name, "data-bytes": String(ref.bytes) });
  node.label = label;
  node.ref = ref;
  node.replaceChildren(...valueRefContents(node));
  return node;
}

function loadedEntry(ref) {
  const entry = loadedValues.get(ref.name);
  return entry && entry.bytes === ref.bytes ? entry : undefined;
}

/** What a value's node holds now: its size and Load, or what was loaded of it. Elements only. */
function valueRefContents(node) {
  return valueRefParts(node).filter((part) => part !== undefined);
}

function valueRefParts(node) {
  const { ref, label } = node;
  const entry = loadedEntry(ref);
  const head = [label ? [h("span", { class: "value-label" }, label), " "] : undefined, h("span", { class: "value-size" }, sizeText(ref.bytes))];
  if (entry && entry.state === "loaded") {
    return [
      h("p", { class: "value-facts" }, head, ", loaded · ", h("a", { href: entry.fileUrl, download: entry.fileName }, "Save as file")),
      h("pre", {}, entry.shown),
      entry.truncated
        ? h(
            "p",
            { class: "value-note muted" },
            "Shown: the first " + grouped(entry.shown.length) + " of " + grouped(entry.chars) + " characters. Save it as a file, or run durable value " + executionId + " " + ref.name + ", for the whole value.",
          )
        : undefined,
    ];
  }
  const loading = entry !== undefined && entry.state === "loading";
  const button = h("button", { type: "button", class: "load-value", disabled: loading }, loading ? "Loading…" : "Load");
  button.addEventListener("click", () => void loadValue(ref));
  const state = loading ? ", loading" + (entry.parts > 1 ? " part " + (entry.part + 1) + " of " + entry.parts : "") : ", not loaded";
  return [h("p", { class: "value-facts" }, head, state, " ", button), entry !== undefined && entry.state === "failed" ? h("p", { class: "value-error" }, "Not loaded: " + entry.message) : undefined];
}

function forgetValue(name) {
  const entry = loadedValues.get(name);
  if (entry && entry.fileUrl) URL.revokeObjectURL(entry.fileUrl);
  loadedValues.delete(name);
}

/** Records what is known of a value and redraws every place on the page that shows it. */
function setLoaded(ref, fields) {
  const old = loadedValues.get(ref.name);
  if (old && old.fileUrl && old.fileUrl !== fields.fileUrl) URL.revokeObjectURL(old.fileUrl);
  loadedValues.set(ref.name, { bytes: ref.bytes, ...fields });
  for (const node of document.querySelectorAll(".value-ref")) {
    if (node.dataset.value === ref.name && node.dataset.bytes === String(ref.bytes)) node.replaceChildren(...valueRefContents(node));
  }
}

async function loadValue(ref) {
  const entry = loadedEntry(ref);
  if (entry && (entry.state === "loading" || entry.state === "loaded")) return;
  setLoaded(ref, { state: "loading", part: 0, parts: ref.parts });
  try {
    const text = await readValueText(ref, (part, parts) => setLoaded(ref, { state: "loading", part, parts }));
    let whole;
    try {
      whole = pretty(JSON.parse(text));
    } catch {
      throw new Error("its parts joined are not JSON; load it again");
    }
    let shown = whole.slice(0, SHOWN_VALUE_CHARS);
    // Not half of a character outside the Basic Multilingual Plane.
    if (shown.length < whole.length && /[\uD800-\uDBFF]$/.test(shown)) shown = shown.slice(0, -1);
    const fileUrl = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const fileName = (executionId + "." + ref.name).replace(/[^A-Za-z0-9._-]+/g, "_") + ".json";
    setLoaded(ref, { state: "loaded", shown, chars: whole.length, truncated: shown.length < whole.length, fileUrl, fileName });
  } catch (err) {
    setLoaded(ref, { state: "failed", message: err instanceof ApiError ? err.code + ": " + err.message : err instanceof Error ? err.message : String(err) });
  }
}

/** The value's JSON text: its parts joined, each checked to be of the same value as the first. */
async function readValueText(ref, onPart) {
  const path = executionPath(executionId) + "/values/" + encodeURIComponent(ref.name);
  for (let attempt = 1; ; attempt += 1) {
    const first = await readValuePart(path, 0, ref);
    const texts = [first.text];
    let same = true;
    for (let part = 1; part < first.parts && same; part += 1) {
      onPart(part, first.parts);
      const next = await readValuePart(path, part, ref);
      same = next.parts === first.parts && next.bytes === first.bytes && next.etag === first.etag;
      texts.push(next.text);
    }
    if (same) return texts.join("");
    if (attempt === VALUE_READS) throw new Error("the value changed while it was read (a new run's input?); load it again");
  }
}

/** One part: a slice of the value's JSON, and what the answer's headers say of the whole (a ref's counts when a proxy dropped them). */
async function readValuePart(path, part, ref) {
  const { response, text } = await send("GET", path + "?part=" + part);
  const count = (name) => {
    const raw = response.headers.get("x-durable-value-" + name);
    return raw === null ? undefined : Number(raw);
  };
  return { text, parts: count("parts") ?? ref.parts, bytes: count("bytes") ?? ref.bytes, etag: response.headers.get("etag") };
}

// ---- the list ----

async function showList() {
  byId("list-view").hidden = false;
  const form = byId("filters");
  form.elements.workflow.value = params.get("workflow") || "";
  form.elements.status.value = params.get("status") || "";
  form.elements.tag.value = params.get("tag") || "";
  const rows = byId("executions");
  let cursor;
  const load = async (fromStart) => {
    const page = await api("GET", "/executions?" + listQuery(fromStart ? undefined : cursor));
    if (fromStart) rows.replaceChildren();
    rows.append(...page.executions.map(listRow));
    cursor = page.cursor;
    byId("more").hidden = cursor === undefined;
    byId("list-empty").hidden = rows.children.length > 0 || cursor !== undefined;
  };
  byId("more").addEventListener("click", (event) => guarded(event.currentTarget, () => load(false)));
  byId("refresh-list").addEventListener("click", (event) => guarded(event.currentTarget, () => load(true)));
  api("GET", "/workflows").then(
    (answer) => byId("workflow-names").append(...answer.workflows.map((w) => h("option", { value: w.name }))),
    () => undefined,
  );
  await load(true).catch(notifyError);
}

function listQuery(cursor) {
  const query = new URLSearchParams({ limit: params.get("limit") || String(LIST_LIMIT) });
  for (const name of ["workflow", "status"]) {
    const value = params.get(name);
    if (value) query.set(name, value);
  }
  for (const tag of params.getAll("tag")) {
    if (tag === "") continue;
    const eq = tag.indexOf("=");
    if (eq <= 0) throw new Error('a tag filter is key=value, not "' + tag + '"');
    query.append("tag." + tag.slice(0, eq), tag.slice(eq + 1));
  }
  if (cursor !== undefined) query.set("cursor", cursor);
  return query.toString();
}

function listRow(execution) {
  return h(
    "tr",
    {},
    h("td", {}, h("a", { href: "?execution=" + encodeURIComponent(execution.id), class: "mono" }, execution.id)),
    h("td", {}, execution.workflow + (execution.version === 1 ? "" : " v" + execution.version)),
    h("td", {}, statusBadge(execution.status)),
    h("td", {}, timeNode(execution.createdAt)),
    h("td", {}, timeNode(execution.updatedAt)),
    h("td", {}, Object.entries(execution.tags || {}).map(([key, value]) => h("span", { class: "tag" }, key + "=" + value))),
  );
}

// ---- one execution ----

/** History read so far: pages before the last are settled; the last is read again from its cursor at each poll. */
const historyState = { settled: [], tail: [], tailCursor: undefined };
let pollTimer;
let refreshing;
let refreshAgain = false;

async function showDetail(id) {
  byId("detail-view").hidden = false;
  byId("detail-title").textContent = "Execution " + id;
  document.title = id + " · durable-aws";
  wireActions(id);
  await refresh(id);
}

/** Reads the execution and its new events, and shows them. One at a time: a call meanwhile runs once more after it. */
function refresh(id) {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      await refreshOnce(id);
    } while (refreshAgain);
  })().finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

async function refreshOnce(id) {
  clearTimeout(pollTimer);
  try {
    const execution = await api("GET", executionPath(id));
    const events = await readHistory(id);
    render(execution, events);
    if (LIVE.has(execution.status)) pollTimer = setTimeout(() => refresh(id), POLL_MS);
  } catch (err) {
    notifyError(err);
    // An API that is restarting should not end the watching; a refusal (404, 401) does.
    if (!(err instanceof ApiError) || err.status === 0 || err.status >= 500) pollTimer = setTimeout(() => refresh(id), POLL_MS * 2);
  }
}

async function readHistory(id) {
  try {
    await readHistoryFrom(id, historyState.tailCursor);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "INVALID_CURSOR") throw err;
    // Cursors do not outlive the API process that made them: read it all again.
    Object.assign(historyState, { settled: [], tail: [], tailCursor: undefined });
    await readHistoryFrom(id, undefined);
  }
  return historyState.settled.concat(historyState.tail);
}

async function readHistoryFrom(id, start) {
  let cursor = start;
  for (;;) {
    const query = new URLSearchParams({ limit: String(HISTORY_LIMIT) });
    if (cursor !== undefined) query.set("cursor", cursor);
    const page = await api("GET", executionPath(id) + "/history?" + query);
    if (page.cursor === undefined) {
      historyState.tail = page.events;
      historyState.tailCursor = cursor;
      return;
    }
    historyState.settled.push(...page.events);
    cursor = page.cursor;
  }
}

function wireActions(id) {
  const path = executionPath(id);
  const after = (button, call, message) =>
    guarded(button, async () => {
      const answer = await call();
      notify(message(answer));
      await refresh(id);
    });
  const reason = () => {
    const text = byId("control-form").elements.reason.value.trim();
    return text === "" ? {} : { reason: text };
  };

  byId("signal-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const name = form.elements.name.value.trim();
    const text = form.elements.payload.value;
    let payload;
    if (text.trim() !== "") {
      try {
        payload = JSON.parse(text);
      } catch (err) {
        notify("The payload is not JSON: " + err.message, "error");
        form.elements.payload.focus();
        return;
      }
    }
    void after(form.querySelector("button"), () => api("POST", path + "/signals/" + encodeURIComponent(name), payload), (answer) => 'Signal "' + name + '" sent (' + answer.signalId + ").");
  });
  byId("cancel").addEventListener("click", (event) => after(event.currentTarget, () => api("POST", path + "/cancel", reason()), () => "Cancel requested."));
  byId("terminate").addEventListener("click", (event) => after(event.currentTarget, () => api("POST", path + "/terminate", reason()), () => "Terminate requested."));
  byId("redrive").addEventListener("click", (event) => after(event.currentTarget, () => api("POST", path + "/redrive", reason()), (answer) => "Redrive " + answer.redrive + " accepted: the execution goes on from where it failed."));
}

function render(execution, events) {
  const live = LIVE.has(execution.status);
  renderSummary(execution);
  byId("cancel").hidden = !live;
  byId("terminate").hidden = !live;
  byId("redrive").hidden = execution.status !== "failed";
  byId("actions-section").hidden = !live && execution.status !== "failed";
  byId("signal-form").hidden = !live;

  byId("error-section").hidden = execution.error === undefined;
  if (execution.error !== undefined) byId("error").replaceChildren(...errorNodes(execution.error));
  if (execution.run !== shownRun) {
    // A new run (continue-as-new) has another input and output under the same names.
    shownRun = execution.run;
    for (const name of ["input", "output"]) forgetValue(name);
    byId("input").replaceChildren();
    byId("output").replaceChildren();
  }
  const refs = refsOf(execution);
  byId("output-section").hidden = !("output" in execution) && !refs.output;
  showValue(byId("output"), execution.output, refs.output);
  byId("state-section").hidden = !("state" in execution);
  byId("state").textContent = pretty(execution.state);
  byId("state-updated").replaceChildren(...(execution.stateUpdatedAt ? ["published ", timeNode(execution.stateUpdatedAt)] : []));
  showValue(byId("input"), execution.input, refs.input);
  byId("input-title").textContent = refs.input ? "Input (" + sizeText(refs.input.bytes) + ")" : "Input";

  const rows = timelineRows(events, Date.now(), live);
  const axis = timeAxis(events, Date.now(), live);
  byId("timeline").replaceChildren(...rows.map((row) => timelineItem(row, axis)));
  const awaited = rows.find((row) => row.kind === "signal" && row.state === "waiting");
  byId("signal-form").elements.name.placeholder = awaited ? awaited.name + " (awaited now)" : "";

  byId("events-title").textContent = "History events (" + events.length + ")";
  byId("events").replaceChildren(...events.map(eventItem));
}

function renderSummary(execution) {
  const facts = [
    ["Status", statusBadge(execution.status)],
    ["Workflow", execution.workflow + " v" + execution.version],
    ["Run", String(execution.run)],
    ["Created", timeNode(execution.createdAt)],
    ["Updated", timeNode(execution.updatedAt)],
    ["Starts at", execution.startAt && timeNode(execution.startAt)],
    ["Next wake-up", execution.nextWakeAt && timeNode(execution.nextWakeAt)],
    ["Parent", execution.parentId && h("a", { href: "?execution=" + encodeURIComponent(execution.parentId), class: "mono" }, execution.parentId)],
    ["Tags", execution.tags && Object.keys(execution.tags).length > 0 && Object.entries(execution.tags).map(([key, value]) => h("span", { class: "tag" }, key + "=" + value))],
    ["Kept until", execution.expiresAt && timeNode(execution.expiresAt)],
  ];
  byId("summary").replaceChildren(...facts.filter(([, value]) => value).flatMap(([term, value]) => [h("dt", {}, term), h("dd", { id: "summary-" + term.toLowerCase().replace(/[^a-z]+/g, "-") }, value)]));
}

function errorNodes(error) {
  return [
    h("p", { class: "message" }, error.message),
    h("p", { class: "muted" }, [error.name, error.code].filter(Boolean).join(" · ")),
    error.details === undefined ? undefined : h("pre", {}, pretty(error.details)),
  ];
}

function eventItem(event) {
  const { seq, type, at, valueRefs, ...rest } = event;
  const large = Object.entries(valueRefs || {}).map(([field, ref]) => valueRefNode(ref, field));
  return h("li", { value: seq }, h("strong", {}, type), " ", timeNode(at), " ", h("span", { class: "mono muted" }, short(rest, 300)), large);
}

// ---- the timeline: one row per durable call, plus points for what happened to the execution ----

/**
 * Rows from history, oldest first. History has no event for the start of a step: a step's first
 * attempt is drawn from the event before it (for code that awaits one call after another, the
 * moment the call was made), and each retry from the time it was due.
 */
function timelineRows(events, nowMs, live) {
  const rows = [];
  const calls = new Map();
  const stepBySeq = new Map();
  const waits = [];
  const buffered = [];
  let run = 1;
  let previousMs;
  const call = (position) => calls.get(run + ":" + position);
  const open = (position, row) => {
    row.key = run + ":" + position;
    calls.set(row.key, row);
    rows.push(row);
    return row;
  };
  const point = (kind, name, state, atMs, extra) => rows.push({ kind, name, state, startMs: atMs, point: true, facts: [], details: [], ...extra });

  for (const event of events) {
    const atMs = Date.parse(event.at);
    switch (event.type) {
      case "ExecutionStarted":
        run = event.run;
        point("run", run === 1 ? "started" : "run " + run, "started", atMs, { facts: [event.workflow + " v" + event.version] });
        break;
      case "StepAttemptFailed":
      case "StepCompleted":
      case "StepFailed": {
        const row = call(event.position) || open(event.position, { kind: "step", name: event.name, startMs: previousMs ?? atMs, attempts: [], details: [] });
        const last = row.attempts[row.attempts.length - 1];
        const startMs = last === undefined ? row.startMs : Math.min(last.retryAtMs ?? last.endMs, atMs);
        row.attempts.push({ attempt: event.attempt, startMs, endMs: atMs, ok: event.type === "StepCompleted", retryAtMs: event.retryAtMs, error: event.error });
        row.endMs = atMs;
        row.state = event.type === "StepCompleted" ? "completed" : event.type === "StepFailed" ? "failed" : "retrying";
        stepBySeq.set(event.seq, row);
        break;
      }
      case "TimerStarted":
        open(event.position, { kind: "timer", name: event.name, startMs: atMs, dueMs: event.fireAtMs, state: "waiting", details: [] });
        break;
      case "TimerFired": {
        const row = call(event.position);
        if (row) Object.assign(row, { endMs: atMs, state: "fired" });
        break;
      }
      case "SignalWaitStarted": {
        const row = open(event.position, { kind: "signal", name: event.name, startMs: atMs, deadlineMs: event.deadlineAtMs, state: "waiting", details: [] });
        // A signal sent before the wait is kept for it.
        const index = buffered.findIndex((signal) => fits(row, signal));
        if (index === -1) waits.push(row);
        else receive(row, buffered.splice(index, 1)[0], atMs);
        break;
      }
      case "SignalReceived": {
        const index = waits.findIndex((row) => fits(row, event));
        if (index !== -1) {
          receive(waits.splice(index, 1)[0], event, atMs);
        } else {
          buffered.push(event);
          point("signal", event.name, "received", atMs, { facts: ["kept for a later wait"], details: [h("li", {}, valueInline("payload", event.payload, refsOf(event).payload))] });
        }
        break;
      }
      case "SignalWaitTimedOut": {
        const row = call(event.position);
        if (row) {
          Object.assign(row, { endMs: atMs, state: "timed out" });
          if (waits.includes(row)) waits.splice(waits.indexOf(row), 1);
        }
        break;
      }
      case "ChildStarted":
        open(event.position, { kind: "child", name: event.name, childId: event.childId, startMs: atMs, state: "running", details: [] });
        break;
      case "ChildCompleted":
      case "ChildFailed": {
        const row = call(event.position);
        if (!row) break;
        Object.assign(row, { endMs: atMs, state: event.type === "ChildCompleted" ? "completed" : event.status });
        if (event.error) row.details.push(h("li", {}, errorText(event.error)));
        break;
      }
      case "CallbackStarted":
        open(event.position, { kind: "callback", name: event.name, startMs: atMs, deadlineMs: event.deadlineAtMs, heartbeatTimeoutMs: event.heartbeatTimeoutMs, state: "waiting", details: [] });
        break;
      case "CallbackCompleted":
      case "CallbackFailed":
      case "CallbackTimedOut": {
        const row = call(event.position);
        if (!row) break;
        const state = event.type === "CallbackCompleted" ? "completed" : event.type === "CallbackFailed" ? "failed" : "timed out";
        Object.assign(row, { endMs: atMs, state });
        if (event.type === "CallbackCompleted") row.details.push(h("li", {}, valueInline("result", event.result, refsOf(event).result)));
        if (event.error) row.details.push(h("li", {}, errorText(event.error)));
        if (event.reason) row.details.push(h("li", {}, event.reason === "heartbeat" ? "no heartbeat came in time" : "no answer came in time"));
        break;
      }
      case "StateSet":
        point("state", "setState", "published", atMs, { facts: [short(event.value, 120)] });
        break;
      case "CancelRequested":
        point("run", "cancel requested", "requested", atMs, { facts: event.reason ? [event.reason] : [] });
        break;
      case "ExecutionCompleted":
        point("run", "completed", "completed", atMs);
        break;
      case "ExecutionFailed":
        point("run", "failed", "failed", atMs, { facts: [errorText(event.error)] });
        break;
      case "ExecutionCanceled":
        point("run", "canceled", "canceled", atMs, { facts: event.reason ? [event.reason] : [] });
        break;
      case "ExecutionTerminated":
        point("run", "terminated", "terminated", atMs, { facts: [event.reason, event.by && "by " + event.by].filter(Boolean) });
        break;
      case "ExecutionRedriven": {
        point("run", "redriven", "redriven", atMs, { facts: ["redrive " + event.redrive, event.reason, event.by && "by " + event.by].filter(Boolean) });
        // The failed step's attempts are left out of replay: it runs again, drawn as a new row.
        for (const seq of event.dropped) {
          const row = stepBySeq.get(seq);
          if (row && calls.get(row.key) === row) {
            calls.delete(row.key);
            row.facts = ["left behind by redrive " + event.redrive];
          }
        }
        break;
      }
      case "ContinuedAsNew":
        point("run", "continued as new", "ended", atMs, { facts: ["run " + event.nextRun + " begins"] });
        break;
      default:
        point("event", event.type, "recorded", atMs);
    }
    previousMs = atMs;
  }
  for (const row of rows) describe(row, nowMs, live);
  return rows;
}

/** Whether a wait takes this signal: same name, and accepted before the wait's deadline (if it has one). */
function fits(row, signal) {
  return row.name === signal.name && (row.deadlineMs === undefined || signal.arrivedAtMs === undefined || signal.arrivedAtMs <= row.deadlineMs);
}

function receive(row, signal, atMs) {
  Object.assign(row, { endMs: Math.max(atMs, row.startMs), state: "received" });
  row.details.push(h("li", {}, valueInline("payload", signal.payload, refsOf(signal).payload)));
}

const OPEN_STATES = new Set(["waiting", "running", "retrying"]);

/** Bars (segments), tone and facts of a row, now that all its events are in. */
function describe(row, nowMs, live) {
  const ended = row.endMs !== undefined && !OPEN_STATES.has(row.state);
  const tone = OPEN_STATES.has(row.state) ? (live ? "open" : "idle") : row.state === "completed" || row.state === "fired" || row.state === "received" ? "ok" : ["failed", "timed out", "canceled", "terminated"].includes(row.state) ? "bad" : "idle";
  row.tone = tone;
  row.facts = row.facts || [];
  if (row.point) {
    row.segments = [{ startMs: row.startMs, point: true, tone: tone === "open" ? "idle" : tone }];
    return;
  }
  const untilMs = ended ? row.endMs : live ? nowMs : row.endMs ?? row.startMs;
  if (row.kind === "step") {
    row.segments = row.attempts.map((a) => ({ startMs: a.startMs, endMs: a.endMs, tone: a.ok ? "ok" : "bad" }));
    const last = row.attempts[row.attempts.length - 1];
    if (row.state === "retrying" && live) row.segments.push({ startMs: Math.max(last.retryAtMs, last.endMs), endMs: Math.max(nowMs, last.retryAtMs), tone: nowMs < last.retryAtMs ? "waiting" : "open" });
    row.facts.unshift(duration(untilMs - row.startMs), last.attempt === 1 ? "1 attempt" : last.attempt + " attempts");
    if (row.state === "retrying") row.facts.push("next attempt " + (last.retryAtMs > nowMs ? "in " + duration(last.retryAtMs - nowMs) : "due since " + duration(nowMs - last.retryAtMs)));
    const failures = row.attempts.filter((a) => !a.ok);
    for (const a of failures.slice(-5)) row.details.push(h("li", {}, "attempt " + a.attempt + " failed: " + errorText(a.error)));
    if (failures.length > 5) row.details.unshift(h("li", { class: "muted" }, failures.length - 5 + " earlier failed attempts not shown"));
    return;
  }
  row.segments = [{ startMs: row.startMs, endMs: untilMs, tone }];
  row.facts.unshift(duration(untilMs - row.startMs));
  if (row.kind === "timer") row.facts.push("due " + isoText(row.dueMs) + (ended ? "" : row.dueMs > nowMs ? " (in " + duration(row.dueMs - nowMs) + ")" : " (due now)"));
  if (row.deadlineMs !== undefined && !ended) row.facts.push("times out " + isoText(row.deadlineMs));
  if (row.heartbeatTimeoutMs !== undefined && !ended) row.facts.push("heartbeat every " + duration(row.heartbeatTimeoutMs));
}

/** The time the timeline spans: from the first event to the last, or to now while the execution runs. */
function timeAxis(events, nowMs, live) {
  const first = events.length === 0 ? nowMs : Date.parse(events[0].at);
  const last = events.length === 0 ? nowMs : Date.parse(events[events.length - 1].at);
  const end = live ? Math.max(nowMs, last) : last;
  return { startMs: first, spanMs: Math.max(end - first, 1) };
}

const KIND_LABELS = { step: "step", timer: "timer", signal: "signal", child: "child", callback: "callback", state: "state", run: "execution", event: "event" };

function timelineItem(row, axis) {
  const track = h("span", { class: "track", "aria-hidden": "true" });
  for (const segment of row.segments) {
    const bar = h("span", { class: "bar " + segment.tone + (segment.point ? " point" : "") });
    const left = clampPercent((segment.startMs - axis.startMs) / axis.spanMs);
    // A point at the very end stays inside the track.
    bar.style.left = segment.point ? "min(" + left + "%, calc(100% - 3px))" : left + "%";
    if (!segment.point) bar.style.width = Math.min(100 - left, clampPercent((segment.endMs - segment.startMs) / axis.spanMs)) + "%";
    track.append(bar);
  }
  const name = row.kind === "child" ? h("a", { href: "?execution=" + encodeURIComponent(row.childId), class: "row-name" }, row.name + " " + row.childId) : h("span", { class: "row-name" }, row.name);
  const facts = [h("span", { class: "fact-status" }, row.state), h("time", { datetime: new Date(row.startMs).toISOString() }, "+" + duration(row.startMs - axis.startMs)), ...row.facts];
  return h(
    "li",
    { class: "row-" + row.kind },
    h("span", { class: "row-label" }, h("span", { class: "row-kind" }, KIND_LABELS[row.kind] || row.kind), name),
    track,
    h("p", { class: "row-facts " + row.tone }, facts.flatMap((fact, i) => (i === 0 ? [fact] : [" · ", fact]))),
    row.details.length === 0 ? undefined : h("ul", { class: "row-details" }, row.details),
  );
}

function clampPercent(fraction) {
  return Math.max(0, Math.min(100, fraction * 100));
}

// ---- start ----

if (!token) notify("No token: open the viewer through the URL that durable dev (or durable viewer) printed, which ends in #token=…", "error");
if (executionId) void showDetail(executionId);
else void showList();
`;
