/** What `durable dev` prints once it serves: where, with which token, where the data goes, what to try. */
import type { AnyWorkflow } from "../../../lambdas/core/workflow.js";
import type { DevOptions } from "./options.js";
import { displayPath } from "./project.js";

export interface BannerFacts {
  options: DevOptions;
  apiUrl: string;
  workflows: readonly AnyWorkflow[];
  /** Files the bundle was made from, relative to the project. */
  inputs: readonly string[];
  /** Set when the port asked for was taken. */
  portTaken?: number;
  /** Each tenant's token, with `--tenant`. */
  tenantTokens?: Readonly<Record<string, string>>;
}

export function banner(facts: BannerFacts): string {
  const { options, apiUrl, workflows, inputs } = facts;
  const file = displayPath(options.workflowsFile, options.cwd);
  const tenants = Object.entries(facts.tenantTokens ?? {});
  // With tenants, the token of no tenant is refused: the examples use the first tenant's.
  const token = tenants[0]?.[1] ?? options.token;
  const auth = `-H "authorization: Bearer ${token}"`;
  const example = workflows[0]?.name ?? "my-workflow";
  const others = Math.max(0, inputs.length - 1);
  const lines = [
    "",
    `durable dev: serving ${workflows.length === 0 ? "no workflows" : workflowList(workflows)} from ${file}`,
    "",
    `  API        ${apiUrl}${facts.portTaken === undefined ? "" : `  (port ${facts.portTaken} is taken)`}`,
    ...(tenants.length === 0
      ? [`  token      ${options.token}  ${tokenHint(options.tokenSource)}`]
      : [
          `  tenants    executions are kept per tenant; each token sees its own tenant's alone (docs/security.md)`,
          ...tenants.map(([tenant, tenantToken]) => `  tenant ${tenant.padEnd(12)} token ${tenantToken}`),
        ]),
    `  viewer     ${apiUrl}/viewer#token=${encodeURIComponent(token)}  (executions in a browser: docs/viewer.md)`,
    `  data       ${options.dataDir === undefined ? "in memory: nothing is kept when it stops" : `${options.dataDir}  (executions survive a restart; --in-memory keeps nothing)`}`,
    `  values     ${valuesLine(options.payloadKey, options.cwd)}`,
    options.watch
      ? `  watching   ${file}${others > 0 ? ` and ${others} file${others === 1 ? "" : "s"} it imports` : ""}: a save reloads the workflows`
      : `  watching   nothing (--no-watch): restart to load changed code`,
    "",
    "Try:",
    `  npx durable start ${example} --input '{}'   # the durable CLI finds this server through .durable/dev.json`,
    "  npx durable list",
    `  curl -s ${auth} ${apiUrl}/workflows`,
    `  curl -s ${auth} -H "content-type: application/json" \\`,
    `       -d '{"workflow":"${example}","input":{}}' ${apiUrl}/executions`,
    `  curl -s ${auth} ${apiUrl}/executions/<id>`,
    `  curl -s ${auth} ${apiUrl}/executions/<id>/history`,
    "",
    "Executions are listed below as they start and end. Ctrl-C stops everything.",
    "",
  ];
  return lines.join("\n");
}

/** `greet, approval, order v2`. */
export function workflowList(workflows: readonly AnyWorkflow[]): string {
  return workflows.map((w) => (w.version === 1 ? w.name : `${w.name} v${w.version}`)).join(", ");
}

function tokenHint(source: DevOptions["tokenSource"]): string {
  if (source === "random") return "(random each start; set one with --token or DURABLE_TOKEN)";
  return `(from ${source})`;
}

/** How values are stored, for the banner. */
function valuesLine(payloadKey: string | undefined, cwd: string): string {
  if (payloadKey === undefined) return "JSON; over 32 KB in the S3 emulator (--encrypt-values seals them)";
  if (payloadKey === "memory") return "sealed (gzip, AES-256-GCM) under a key kept only while this runs; over 32 KB in the S3 emulator";
  return `sealed (gzip, AES-256-GCM) under the key in ${displayPath(payloadKey, cwd)}; over 32 KB in the S3 emulator`;
}
