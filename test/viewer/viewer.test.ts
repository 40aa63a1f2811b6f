/**
 * The execution viewer in a real browser (headless Chromium through playwright-core), served by
 * the local stack as `durable dev` serves it: the list shows executions and filters them, an
 * execution's timeline shows its steps, attempts, waits and errors, and the page's buttons signal,
 * terminate and redrive, showing the API's message when it refuses. Also through `durable
 * viewer`'s signing proxy. Values over 1 MB, which the API names by reference, show as their size
 * until Load reads them in parts, and then only their beginning.
 *
 * `DURABLE_VIEWER_SCREENSHOT=docs/viewer.png npx vitest run test/viewer/viewer.test.ts` also
 * saves a screenshot of a completed execution there (the picture in docs/viewer.md).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { inject } from "vitest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAuthorizer } from "../../lambdas/client/auth.js";
import { NonRetryableError } from "../../lambdas/core/errors.js";
import { defineWorkflow } from "../../lambdas/core/workflow.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { startViewerProxy } from "../../local/viewer/proxy.js";
import { uniqueName } from "../support/services.js";
import { startSignedFront } from "./signed-front.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`test/viewer/viewer.test.ts: no Chromium at ${CHROMIUM}, so the browser tests are skipped (apt-get install -y chromium)`);

const order = defineWorkflow("viewer-order", async (ctx, input: { sku: string }) => {
  const reservation = await ctx.step("reserve", () => `res-${input.sku}`);
  const price = await ctx.step(
    "price",
    ({ attempt }) => {
      if (attempt === 1) throw new Error("price service busy");
      return 42;
    },
    { retry: { maxAttempts: 3, initialInterval: "100ms" } },
  );
  ctx.setState({ stage: "awaiting approval", price });
  const decision = await ctx.waitForSignal<{ approved: boolean }>("approve");
  const label = await ctx.step("ship", () => `LABEL-${input.sku}`);
  return { reservation, price, approved: decision.approved, label };
});

/** Declines the card as many times as asked, counted across redrives (the worker runs in this process). */
const declined = new Map<string, number>();
const charge = defineWorkflow("viewer-charge", async (ctx, input: { declines: number }) => {
  await ctx.step("prepare", () => "ready");
  const receipt = await ctx.step("charge", ({ idempotencyKey }) => {
    const so = declined.get(idempotencyKey) ?? 0;
    if (so < input.declines) {
      declined.set(idempotencyKey, so + 1);
      // Markup in a message must reach the page as text.
      throw new NonRetryableError("card <b>declined</b>", { code: "CARD_DECLINED", details: { last4: "4242" } });
    }
    return "receipt-1";
  });
  return { receipt };
});

/**
 * Values over the 1 MB the API answers inline: a 1.5 MB step result, kept while a signal is
 * awaited, and a 3 MB output, which the values route serves in two parts.
 */
const REPORT = `REPORT-START${"r".repeat(1_500_000)}REPORT-END`;
const bulky = defineWorkflow("viewer-bulky", async (ctx, _input: { blob: string }) => {
  const report = await ctx.step("report", () => REPORT);
  await ctx.waitForSignal<{ note: string }>("finish");
  return report + report;
});

let stack: LocalStack;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let pageErrors: string[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  [stack, browser] = await Promise.all([
    startLocalStack({
      workflows: [order, charge, bulky],
      endpoints: { dynamoEndpoint: inject("dynamoEndpoint"), sqsEndpoint: inject("sqsEndpoint") },
      tableName: uniqueName("viewer"),
      queueName: uniqueName("viewer"),
      visibilityTimeoutSeconds: 2,
    }),
    chromium.launch({ executablePath: CHROMIUM }),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
  // A script error or a content-security-policy refusal shows up here.
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

async function newPage(): Promise<Page> {
  context = await browser!.newContext({ viewport: { width: 1180, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !/the server responded with a status of (400|404|409)/.test(message.text())) pageErrors.push(message.text());
  });
  return page;
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.bearerToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

async function start(workflow: string, input: unknown, prefix: string): Promise<string> {
  const id = uniqueName(prefix);
  const answer = await call("POST", "/executions", { workflow, id, input });
  expect(answer.status).toBe(201);
  return id;
}

/** The name the API gives the value in `field` of the execution's first event of `type` (`3.result`). */
async function refName(id: string, type: string, field: string): Promise<string> {
  const { body } = await call("GET", `/executions/${id}/history`);
  const event = (body.events as { type: string; valueRefs?: Record<string, { name: string }> }[]).find((e) => e.type === type);
  const name = event?.valueRefs?.[field]?.name;
  if (name === undefined) throw new Error(`no ${type} with a reference for ${field}`);
  return name;
}

/** The viewer opened on one execution, as a link from the list (or a bookmark) opens it. */
function executionUrl(id: string): string {
  return `${stack.apiUrl}/viewer?execution=${encodeURIComponent(id)}#token=${encodeURIComponent(stack.bearerToken)}`;
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();
/** The first `chars` characters of what `locator` shows, once it is in the page. */
const beginning = async (locator: Locator, chars: number) => (await locator.allInnerTexts())[0]?.slice(0, chars);
const timelineRow = (page: Page, kind: string, name: string) => page.locator(`#timeline li.row-${kind}`, { hasText: name });
const POLL = { timeout: 12_000, interval: 100 };

describe("the execution viewer, served by durable dev's local stack", () => {
  it.skipIf(!hasChromium)("lists an execution, shows its timeline, sends it a signal and sees it complete", async () => {
    const id = await start(order.name, { sku: "lamp" }, "order");
    const page = await newPage();
    await page.goto(stack.viewerUrl!);

    const link = page.getByRole("link", { name: id });
    await link.waitFor();
    // The token left the address bar; it lives in the tab's sessionStorage.
    expect(page.url()).toBe(`${stack.apiUrl}/viewer`);
    await link.click();
    await page.waitForURL(`${stack.apiUrl}/viewer?execution=${id}`);
    expect(await page.getByRole("heading", { level: 1 }).innerText()).toBe(`Execution ${id}`);

    // The page polls while it runs: the wait for the signal shows up, after the steps.
    await expect.poll(() => timelineRow(page, "signal", "approve").count(), POLL).toBe(1);
    expect(await timelineRow(page, "step", "reserve").innerText()).toMatch(/completed · \+\d+ ms · \d+ ms · 1 attempt/);
    const price = await timelineRow(page, "step", "price").innerText();
    expect(price).toContain("2 attempts");
    expect(price).toContain("attempt 1 failed: price service busy");
    expect(await timelineRow(page, "signal", "approve").innerText()).toContain("waiting");
    expect(await text(page, "#summary-status")).toBe("sleeping");
    // The summary and the timeline are polled apart: the state may show a poll after the timeline.
    await expect.poll(async () => JSON.parse((await text(page, "#state")) || "null") as unknown, POLL).toEqual({ stage: "awaiting approval", price: 42 });
    expect(await page.getByRole("button", { name: "Terminate" }).isVisible()).toBe(true);
    expect(await page.getByRole("button", { name: "Redrive" }).isVisible()).toBe(false);

    await page.getByLabel("Signal name").fill("approve");
    await page.getByLabel("Payload").fill('{ "approved": true }');
    await page.getByRole("button", { name: "Send signal" }).click();
    await expect.poll(() => text(page, "#notice"), POLL).toMatch(/^Signal "approve" sent \(.+\)\.$/);

    await expect.poll(() => text(page, "#summary-status"), POLL).toBe("completed");
    expect(JSON.parse(await text(page, "#output"))).toEqual({ reservation: "res-lamp", price: 42, approved: true, label: "LABEL-lamp" });
    expect(await timelineRow(page, "signal", "approve").innerText()).toContain('received · +');
    expect(await timelineRow(page, "signal", "approve").innerText()).toContain('payload {"approved":true}');
    expect(await timelineRow(page, "step", "ship").innerText()).toContain("completed");
    expect(await timelineRow(page, "run", "completed").count()).toBe(1);
    expect(await page.getByRole("button", { name: "Terminate" }).isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "Send signal" }).isVisible()).toBe(false);

    const screenshot = process.env.DURABLE_VIEWER_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  });

  it.skipIf(!hasChromium)("shows a failed execution's error as text, and redrives it from the page", async () => {
    const id = await start(charge.name, { declines: 1 }, "charge");
    const page = await newPage();
    await page.goto(executionUrl(id));

    await expect.poll(() => text(page, "#summary-status"), POLL).toBe("failed");
    const message = await text(page, "#error .message");
    expect(message).toContain("card <b>declined</b>");
    expect(await page.locator("#error b").count()).toBe(0);
    expect(await timelineRow(page, "step", "charge").innerText()).toContain("failed");
    expect(await timelineRow(page, "run", "failed").innerText()).toContain("card <b>declined</b>");
    expect(await page.getByRole("button", { name: "Terminate" }).isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "Cancel" }).isVisible()).toBe(false);

    await page.getByRole("button", { name: "Redrive" }).click();
    await expect.poll(() => text(page, "#notice"), POLL).toBe("Redrive 1 accepted: the execution goes on from where it failed.");
    await expect.poll(() => text(page, "#summary-status"), POLL).toBe("completed");
    expect(JSON.parse(await text(page, "#output"))).toEqual({ receipt: "receipt-1" });
    expect(await page.locator("#error-section").isVisible()).toBe(false);
    expect(await timelineRow(page, "run", "redriven").innerText()).toContain("redrive 1");
    const charges = await timelineRow(page, "step", "charge").allInnerTexts();
    expect(charges).toHaveLength(2);
    expect(charges[0]).toContain("left behind by redrive 1");
    expect(charges[1]).toContain("completed");

    // Redriving what is no longer failed: the API's refusal is shown as it gave it.
    expect((await call("POST", `/executions/${id}/redrive`)).body).toMatchObject({ error: { code: "EXECUTION_NOT_FAILED" } });
  });

  it.skipIf(!hasChromium)("shows the API's refusal, and terminates a waiting execution with a reason", async () => {
    const id = await start(order.name, { sku: "desk" }, "order");
    const page = await newPage();
    await page.goto(executionUrl(id));
    await expect.poll(() => timelineRow(page, "signal", "approve").count(), POLL).toBe(1);

    await page.getByLabel("Signal name").fill("no spaces allowed");
    await page.getByRole("button", { name: "Send signal" }).click();
    await expect.poll(() => text(page, "#notice"), POLL).toMatch(/^INVALID_INPUT: signal name/);
    expect(await page.locator("#notice").getAttribute("class")).toContain("error");

    await page.getByLabel("Signal name").fill("approve");
    await page.getByLabel("Payload").fill("{ approved: yes }");
    await page.getByRole("button", { name: "Send signal" }).click();
    await expect.poll(() => text(page, "#notice"), POLL).toMatch(/^The payload is not JSON/);

    await page.getByLabel("Reason").fill("ordered twice");
    // Keyboard only: focus the button and press Enter.
    await page.getByRole("button", { name: "Terminate" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => text(page, "#summary-status"), POLL).toBe("terminated");
    expect(await timelineRow(page, "run", "terminated").innerText()).toContain("ordered twice");
    expect(await page.getByRole("button", { name: "Redrive" }).isVisible()).toBe(false);
  });

  it.skipIf(!hasChromium)("shows a large input, step result, signal payload and output as their sizes, and Load shows their beginning", async () => {
    const id = await start(bulky.name, { blob: `INPUT-START${"i".repeat(1_200_000)}` }, "bulky");
    const page = await newPage();
    await page.goto(executionUrl(id));
    await expect.poll(() => timelineRow(page, "signal", "finish").count(), POLL).toBe(1);

    expect(await text(page, "#input-title")).toBe("Input (1.2 MB)");
    await page.locator("#input-title").click();
    expect(await text(page, "#input")).toBe("1.2 MB, not loaded Load");

    // The step's result, in the list of events: loaded while the page still polls, it stays loaded.
    await page.locator("#events-title").click();
    const stepEvent = page.locator("#events li", { hasText: "StepCompleted" });
    expect(await stepEvent.locator(".value-ref").innerText()).toBe("result 1.5 MB, not loaded Load");
    await stepEvent.getByRole("button", { name: "Load" }).click();
    await expect.poll(() => stepEvent.locator("pre").count(), POLL).toBe(1);
    const result = await stepEvent.locator("pre").innerText();
    expect(result.startsWith('"REPORT-START' + "r".repeat(100))).toBe(true);
    // Only the beginning goes into the page.
    expect(result.length).toBe(200_000);
    expect(await stepEvent.locator(".value-note").innerText()).toBe(
      `Shown: the first 200 000 of 1 500 024 characters. Save it as a file, or run durable value ${id} ${await refName(id, "StepCompleted", "result")}, for the whole value.`,
    );

    const signaled = await call("POST", `/executions/${id}/signals/finish`, { note: `SIGNAL-START${"s".repeat(1_100_000)}` });
    expect(signaled.status).toBe(202);
    await expect.poll(() => text(page, "#summary-status"), POLL).toBe("completed");
    expect((await stepEvent.locator("pre").innerText()).length).toBe(200_000);

    // In the timeline, the signal's payload.
    const signalRow = timelineRow(page, "signal", "finish");
    expect(await signalRow.locator(".value-ref").innerText()).toBe("payload 1.1 MB, not loaded Load");
    await signalRow.getByRole("button", { name: "Load" }).click();
    await expect.poll(() => beginning(signalRow.locator("pre"), 30), POLL).toBe('{\n  "note": "SIGNAL-STARTsssss');

    // The output, in two parts, and saving it whole.
    expect(await page.locator("#output-section").isVisible()).toBe(true);
    expect(await text(page, "#output")).toBe("3.0 MB, not loaded Load");
    // A second part of another value (its etag differs) is not joined to the first.
    await page.route(/\/values\/output\?part=1$/, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), etag: '"another-value"' } });
    });
    await page.locator("#output").getByRole("button", { name: "Load" }).click();
    await expect.poll(() => page.locator("#output .value-error").allInnerTexts(), POLL).toEqual(["Not loaded: the value changed while it was read (a new run's input?); load it again"]);
    await page.unroute(/\/values\/output\?part=1$/);
    await page.locator("#output").getByRole("button", { name: "Load" }).click();
    await expect.poll(() => beginning(page.locator("#output pre"), 20), POLL).toBe('"REPORT-STARTrrrrrrr');
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#output").getByRole("link", { name: "Save as file" }).click()]);
    expect(download.suggestedFilename()).toBe(`${id}.output.json`);
    // Compared as a boolean: a failure should not print megabytes.
    expect(JSON.parse(await readFile(await download.path(), "utf8")) === REPORT + REPORT).toBe(true);

    // A refusal is shown where the value is, and Load tries again.
    await page.route(/\/values\/input\?part=0$/, (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ error: { code: "EXECUTION_NOT_FOUND", message: `no execution with id "${id}"` } }) }),
    );
    await page.locator("#input").getByRole("button", { name: "Load" }).click();
    await expect.poll(() => page.locator("#input .value-error").allInnerTexts(), POLL).toEqual([`Not loaded: EXECUTION_NOT_FOUND: no execution with id "${id}"`]);
    await page.unroute(/\/values\/input\?part=0$/);
    await page.locator("#input").getByRole("button", { name: "Load" }).click();
    await expect.poll(() => beginning(page.locator("#input pre"), 28), POLL).toBe('{\n  "blob": "INPUT-STARTiiii');
    expect(await page.locator("#detail-view").innerText()).not.toContain("undefined");
  });

  it.skipIf(!hasChromium)("filters the list by workflow, status and tag, and pages through it", async () => {
    const tagged = uniqueName("t");
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const id = uniqueName("charge");
      expect((await call("POST", "/executions", { workflow: charge.name, id, input: { declines: 0 }, tags: { batch: tagged } })).status).toBe(201);
      ids.push(id);
    }
    const page = await newPage();
    await page.goto(stack.viewerUrl!);
    await page.getByRole("link", { name: ids[2]! }).waitFor();

    await page.getByLabel("Workflow").fill(charge.name);
    await page.getByLabel("Tag").fill(`batch=${tagged}`);
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/\/viewer\?workflow=viewer-charge&status=&tag=batch%3D/);
    const listed = async () => (await page.locator("#executions a").allInnerTexts()).sort();
    await expect.poll(listed, POLL).toEqual([...ids].sort());

    // Pages of 2 (a page is 20 unless the URL says otherwise): the third comes with "Load more".
    await page.goto(`${page.url()}&limit=2`);
    await expect.poll(() => page.locator("#executions a").count(), POLL).toBe(2);
    await page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(listed, POLL).toEqual([...ids].sort());
    expect(await page.getByRole("button", { name: "Load more" }).isVisible()).toBe(false);

    await page.getByLabel("Status").selectOption("failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.locator("#list-empty").isVisible(), POLL).toBe(true);

    await page.goto(`${stack.apiUrl}/viewer?tag=nonsense`);
    await expect.poll(() => text(page, "#notice"), POLL).toBe('a tag filter is key=value, not "nonsense"');
  });
});

describe("the execution viewer through durable viewer's signing proxy", () => {
  it.skipIf(!hasChromium)("lists and opens executions of an API it signs for", async () => {
    const credentials = { accessKeyId: "AKIDVIEWERBROWSER", secretAccessKey: "browser/secret" };
    const front = await startSignedFront({ apiUrl: stack.apiUrl, bearerToken: stack.bearerToken, region: "us-west-2", credentials });
    const proxy = await startViewerProxy({ apiUrl: new URL(front.url), authorize: createAuthorizer({ type: "iam", region: "us-west-2", credentials }, new URL(front.url)) });
    try {
      const id = await start(order.name, { sku: "chair" }, "order");
      const page = await newPage();
      await page.goto(proxy.viewerUrl);
      await page.getByRole("link", { name: id }).click();
      await expect.poll(() => timelineRow(page, "step", "reserve").count(), POLL).toBe(1);
      expect(front.seen.length).toBeGreaterThan(0);
      expect(front.seen.filter((r) => !r.verified)).toEqual([]);
    } finally {
      // The page polls while the execution runs: it goes before the servers it polls do.
      await context?.close();
      context = undefined;
      await proxy.close();
      await front.close();
    }
  });
});
