/**
 * Drives one execution through a running `durable dev`: start (input type-checked against the
 * workflow), signal, await the typed result. Usage: tsx src/client-run.ts <api-url> <token>
 */
import { createClient } from "durable-aws/client";
import { shipOrder } from "./workflows.js";

const [url, token] = process.argv.slice(2);
if (!url || !token) throw new Error("usage: client-run <api-url> <token>");
const client = createClient({ url, auth: { type: "bearer", token } });

const run = await client.start(shipOrder, { sku: "lamp", quantity: 3 }, { tags: { customer: "c-42" } });
// @ts-expect-error quantity must be a number: start checks the input against the workflow's type
if (process.argv.length < 0) await client.start(shipOrder, { sku: "lamp", quantity: "3" });

// The signal may come before the workflow waits for it: it waits in the inbox.
await client.signal(run, "approve", { approved: true });
const output = await client.result(run, { timeoutMs: 60_000 });
// Typed by the workflow: `label` exists on the "shipped" branch only.
const label: string = output.status === "shipped" ? output.label : "none";
// Listed by its tag (the index is read eventually: an empty first answer is retried).
let tagged: string[] = [];
for (let i = 0; i < 20 && !tagged.includes(run.id); i += 1) {
  tagged = (await client.list({ tags: { customer: "c-42" } })).executions.map((e) => e.id);
  if (!tagged.includes(run.id)) await new Promise((r) => setTimeout(r, 100));
}
if (!tagged.includes(run.id)) throw new Error(`list({ tags }) did not find ${run.id}: ${JSON.stringify(tagged)}`);
const history = [];
for await (const event of client.iterateHistory(run)) history.push(event.type);
console.log(JSON.stringify({ id: run.id, output, label, history }));
