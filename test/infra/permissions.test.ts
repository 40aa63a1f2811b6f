/**
 * Who may call the API, as the construct sets it up: `grantApi`'s per-route IAM grants, the
 * `DURABLE_AUTHORIZATION` policy handed to the API function for each kind of `auth`, and the
 * `auth` props refused at synth. Four synths without bundling, shared by the tests.
 */
import { readFileSync } from "node:fs";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AccountRootPrincipal, Role } from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_HANDLERS_MODULE } from "../../bin/app-stack.js";
import { type Action, API_ROUTE_ACTIONS, AUTHORIZATION_ENV } from "../../lambdas/core/permissions.js";
import { parseAuthorizationPolicy } from "../../lambdas/handlers/authorization.js";
import { API_ROUTES, DurableWorkflows, type DurableWorkflowsAuth } from "../../lib/durable-workflows.js";
import { EXAMPLE_WORKFLOWS, SYNTH_TIMEOUT_MS } from "./synth-stack.js";

type Resource = { Type: string; Properties: Record<string, any> };

interface Synthesized {
  readonly stack: Stack;
  readonly workflows: DurableWorkflows;
  readonly template: Template;
  /** The roles `build` made, by name. */
  readonly roles: Record<string, Role>;
}

const TENANT_ROLE_NAME = "TenantB";

/**
 * A stack holding one `DurableWorkflows` with `auth`, after `build` (which may make roles and
 * call `grantApi`), synthesized without bundling (as synthesizeConstruct does; that helper has
 * no hook after the construct is made, which grantApi needs).
 */
function synthesize(auth: (roles: (name: string) => Role) => DurableWorkflowsAuth, build: (workflows: DurableWorkflows, roles: (name: string) => Role) => void = () => {}): Synthesized {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Permissions");
  const roles: Record<string, Role> = {};
  const role = (name: string) => (roles[name] ??= new Role(stack, name, { assumedBy: new AccountRootPrincipal() }));
  const workflows = new DurableWorkflows(stack, "Workflows", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, auth: auth(role) });
  build(workflows, role);
  return { stack, workflows, template: Template.fromStack(stack), roles };
}

function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as { context?: Record<string, unknown> }).context ?? {};
}

const GRANTS: Record<string, Action[]> = {
  Reader: ["read"],
  Signaller: ["signal"],
  Canceller: ["cancel"],
  Operator: ["cancel", "terminate", "redrive"],
  Starter: ["start", "read"],
};

let iam: Synthesized;
let iamTenants: Synthesized;
let jwt: Synthesized;
let jwtTenants: Synthesized;

beforeAll(() => {
  iam = synthesize(
    () => ({ type: "iam" }),
    (workflows, role) => {
      for (const [name, actions] of Object.entries(GRANTS)) workflows.grantApi(role(name), ...actions);
    },
  );
  iamTenants = synthesize((role) => ({
    type: "iam",
    tenants: true,
    principals: {
      "arn:aws:iam::123456789012:role/tenant-a": { tenant: "a" },
      "arn:aws:iam::123456789012:role/reporting": { tenant: "a", actions: ["read"] },
      // A role made in the same app: its ARN is a token until deploy.
      [role(TENANT_ROLE_NAME).roleArn]: { tenant: "b", actions: ["start", "read", "signal"] },
      // No tenant: accepted at synth, refused at request time (403 TENANT_REQUIRED).
      "arn:aws:iam::123456789012:user/ops": {},
    },
  }));
  jwt = synthesize(() => ({ type: "jwt", issuer: "https://auth.example.com/", audience: ["workflows-api"] }));
  jwtTenants = synthesize(() => ({ type: "jwt", issuer: "https://auth.example.com/", audience: ["workflows-api"], scopes: false, tenantClaim: "tenant_id" }));
}, SYNTH_TIMEOUT_MS);

function resourcesOf(synth: Synthesized, type: string): Record<string, Resource> {
  return synth.template.findResources(type) as Record<string, Resource>;
}

function logicalId(synth: Synthesized, construct: { node: { defaultChild?: unknown } }): string {
  return synth.stack.getLogicalId(construct.node.defaultChild as never);
}

/**
 * A CloudFormation value as text: pseudo parameters as `${Partition}`, `${Region}`, `${Account}`,
 * the HTTP API's id as `${apiId}`, another resource's ARN as `${<logical id>.Arn}`. Throws on
 * anything else, so an unexpected reference fails the test instead of hiding.
 */
function render(synth: Synthesized, value: unknown): string {
  if (typeof value === "string") return value;
  const v = value as { Ref?: string; "Fn::GetAtt"?: [string, string]; "Fn::Join"?: [string, unknown[]] };
  const pseudo: Record<string, string> = { "AWS::Partition": "${Partition}", "AWS::Region": "${Region}", "AWS::AccountId": "${Account}" };
  if (v.Ref !== undefined && pseudo[v.Ref]) return pseudo[v.Ref]!;
  if (v.Ref !== undefined && v.Ref === logicalId(synth, synth.workflows.httpApi)) return "${apiId}";
  if (v["Fn::GetAtt"]?.[1] === "Arn") return `\${${v["Fn::GetAtt"][0]}.Arn}`;
  if (v["Fn::Join"]) return v["Fn::Join"][1].map((part) => render(synth, part)).join(v["Fn::Join"][0]);
  throw new Error(`a value the test cannot render: ${JSON.stringify(value)}`);
}

/** Every execute-api resource the policies attached to `role` allow, rendered. */
function invokeGrantsOf(synth: Synthesized, role: Role): string[] {
  const roleId = logicalId(synth, role);
  const statements = Object.values(resourcesOf(synth, "AWS::IAM::Policy"))
    .filter((p) => (p.Properties.Roles as unknown[]).some((r) => (r as { Ref?: string }).Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Effect: string; Action: string | string[]; Resource: unknown }>);
  return statements.flatMap((s) => {
    expect(s.Effect).toBe("Allow");
    expect(s.Action).toBe("execute-api:Invoke");
    return (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => render(synth, r));
  });
}

const ARN = "arn:${Partition}:execute-api:${Region}:${Account}:${apiId}/$default/";

describe("grantApi", () => {
  it("grants read on exactly the five GET routes, each {param} a wildcard", () => {
    expect(invokeGrantsOf(iam, iam.roles.Reader!).sort()).toEqual(
      [`${ARN}GET/executions`, `${ARN}GET/executions/*`, `${ARN}GET/executions/*/history`, `${ARN}GET/executions/*/values/*`, `${ARN}GET/workflows`].sort(),
    );
  });

  it("grants signal on the signals route alone", () => {
    expect(invokeGrantsOf(iam, iam.roles.Signaller!)).toEqual([`${ARN}POST/executions/*/signals/*`]);
  });

  it("opens /bulk only with all of cancel, terminate and redrive", () => {
    expect(invokeGrantsOf(iam, iam.roles.Canceller!)).toEqual([`${ARN}POST/executions/*/cancel`]);
    expect(invokeGrantsOf(iam, iam.roles.Operator!).sort()).toEqual(
      [`${ARN}POST/executions/*/cancel`, `${ARN}POST/executions/*/terminate`, `${ARN}POST/executions/*/redrive`, `${ARN}POST/bulk`].sort(),
    );
  });

  it("grants start on POST /executions, nothing else beyond the actions named", () => {
    const grants = invokeGrantsOf(iam, iam.roles.Starter!);
    expect(grants.filter((g) => g.includes("/POST/"))).toEqual([`${ARN}POST/executions`]);
    // start and read: POST /executions and the five GET routes of read, nothing more.
    expect(grants.sort()).toEqual(
      [
        `${ARN}POST/executions`,
        `${ARN}GET/executions`,
        `${ARN}GET/executions/*`,
        `${ARN}GET/executions/*/history`,
        `${ARN}GET/executions/*/values/*`,
        `${ARN}GET/workflows`,
      ].sort(),
    );
  });

  it("names routes that exist: every granted ARN is a route of the API, and every route belongs to some action", () => {
    const routeKeys = Object.values(resourcesOf(iam, "AWS::ApiGatewayV2::Route")).map((r) => r.Properties.RouteKey as string);
    const arnOf = (routeKey: string) => {
      const [method, path] = routeKey.split(" ") as [string, string];
      return `${ARN}${method}${path.replace(/\{[^}]+\}/g, "*")}`;
    };
    expect(routeKeys.sort()).toEqual(API_ROUTE_ACTIONS.map((r) => `${r.method} ${r.path}`).sort());
    expect(API_ROUTES.map(([method, path]) => `${method} ${path}`)).toEqual(API_ROUTE_ACTIONS.map((r) => `${r.method} ${r.path}`));
    const granted = new Set(Object.values(iam.roles).flatMap((role) => invokeGrantsOf(iam, role)));
    for (const arn of granted) expect(routeKeys.map(arnOf)).toContain(arn);
    for (const route of API_ROUTE_ACTIONS) expect(route.actions.length).toBeGreaterThan(0);
  });

  it("refuses no actions and unknown actions", () => {
    const role = new Role(iam.stack, "Refused", { assumedBy: new AccountRootPrincipal() });
    expect(() => iam.workflows.grantApi(role)).toThrow(/grantApi: name at least one action \(start, read, signal/);
    expect(() => iam.workflows.grantApi(role, "read", "delete" as Action)).toThrow(/grantApi: unknown action "delete" \(actions: start, read/);
  });

  it("refuses under JWT auth, pointing to scopes", () => {
    const role = new Role(jwt.stack, "Refused", { assumedBy: new AccountRootPrincipal() });
    expect(() => jwt.workflows.grantApi(role, "read")).toThrow(/JWT auth, where callers get their permissions from their token's scopes \(durable:<action> or <workflow>:<action>\)/);
    const tenantsRole = new Role(jwtTenants.stack, "Refused", { assumedBy: new AccountRootPrincipal() });
    expect(() => jwtTenants.workflows.grantApi(tenantsRole, "read")).toThrow(/grantApi is for auth type "iam"/);
  });
});

/** The API function's `DURABLE_AUTHORIZATION`, rendered to text (a role's ARN as `${<logical id>.Arn}`). */
function authorizationEnv(synth: Synthesized): string {
  const fn = resourcesOf(synth, "AWS::Lambda::Function")[logicalId(synth, synth.workflows.apiFunction)]!;
  return render(synth, fn.Properties.Environment.Variables[AUTHORIZATION_ENV]);
}

describe(`the API function's ${AUTHORIZATION_ENV}`, () => {
  it("is scopes off for IAM by default: IAM callers carry no scopes", () => {
    expect(authorizationEnv(iam)).toBe('{"scopes":false}');
    expect(iam.workflows.authorizationPolicy).toEqual({ scopes: false });
  });

  it("lists the IAM principals, a role of the same app by its ARN, and turns tenants on", () => {
    const roleArn = `\${${logicalId(iamTenants, iamTenants.roles[TENANT_ROLE_NAME]!)}.Arn}`;
    expect(JSON.parse(authorizationEnv(iamTenants))).toEqual({
      scopes: false,
      principals: {
        "arn:aws:iam::123456789012:role/tenant-a": { tenant: "a" },
        "arn:aws:iam::123456789012:role/reporting": { tenant: "a", actions: ["read"] },
        [roleArn]: { tenant: "b", actions: ["start", "read", "signal"] },
        "arn:aws:iam::123456789012:user/ops": {},
      },
      tenants: {},
    });
  });

  it("asks a JWT for durable:<action> scopes by default", () => {
    expect(authorizationEnv(jwt)).toBe('{"scopes":{"prefix":"durable"}}');
    expect(jwt.workflows.authorizationPolicy).toEqual({ scopes: { prefix: "durable" } });
  });

  it("reads a JWT's tenant from tenantClaim, with scopes off", () => {
    expect(authorizationEnv(jwtTenants)).toBe('{"scopes":false,"tenants":{"claim":"tenant_id"}}');
  });

  it("is what the construct exposes, and what the API function accepts at cold start", () => {
    for (const synth of [iam, jwt, jwtTenants]) {
      const json = authorizationEnv(synth);
      expect(JSON.parse(json)).toEqual(synth.workflows.authorizationPolicy);
      expect(parseAuthorizationPolicy(json)).toEqual(synth.workflows.authorizationPolicy);
    }
    expect(parseAuthorizationPolicy(authorizationEnv(iamTenants))).toMatchObject({ tenants: {} });
    expect(Object.isFrozen(iamTenants.workflows.authorizationPolicy)).toBe(true);
    expect(Object.isFrozen(iamTenants.workflows.authorizationPolicy.principals)).toBe(true);
  });

  it("is given to the API function only", () => {
    for (const synth of [iam, iamTenants, jwt, jwtTenants]) {
      const w = synth.workflows;
      const functions = resourcesOf(synth, "AWS::Lambda::Function");
      for (const fn of [w.workerFunction, w.sweeperFunction]) {
        expect(functions[logicalId(synth, fn)]!.Properties.Environment.Variables).not.toHaveProperty(AUTHORIZATION_ENV);
      }
    }
  });
});

describe("no secret in any function's environment", () => {
  it("holds only ARNs or references in variables named like a secret, key, token or password", () => {
    let checked = 0;
    for (const synth of [iam, iamTenants, jwt, jwtTenants]) {
      for (const fn of Object.values(resourcesOf(synth, "AWS::Lambda::Function"))) {
        for (const [name, value] of Object.entries((fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>)) {
          if (!/SECRET|KEY|TOKEN|PASSWORD/i.test(name)) continue;
          checked++;
          if (typeof value === "string") expect(value, name).toMatch(/^arn:/);
          else expect(Object.keys(value as object), name).toEqual([expect.stringMatching(/^(Ref|Fn::GetAtt|Fn::ImportValue)$/)]);
        }
        expect(JSON.stringify(fn.Properties.Environment ?? {})).not.toContain("resolve:secretsmanager");
      }
    }
    // DURABLE_CURSOR_SECRET_ARN at least, once per stack: the check is not vacuous.
    expect(checked).toBeGreaterThanOrEqual(4);
  });
});

describe("cdk-nag", () => {
  it("finds nothing to report in the construct, whatever the auth", () => {
    for (const synth of [iam, iamTenants, jwt, jwtTenants]) {
      const report = new AwsSolutionsChecks().validateScope(synth.workflows);
      expect(report.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
    }
  });

  it("finds in the granted roles only the wildcard a route's {param} takes (AwsSolutions-IAM5, docs/security.md)", () => {
    const report = new AwsSolutionsChecks().validateScope(iam.stack);
    const findings = report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
    expect(findings.length).toBeGreaterThan(0);
    for (const finding of findings) {
      expect(finding).toMatch(/^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<\w+>\/\$default\/(GET|POST)\/(executions|callbacks)\/\*.*\] at Permissions\/\w+\/DefaultPolicy\/Resource$/);
    }
  });
});

describe("auth props that cannot work are refused at synth, naming the prop", () => {
  function build(auth: DurableWorkflowsAuth): () => DurableWorkflows {
    return () => {
      const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
      return new DurableWorkflows(new Stack(app, "S"), "W", { workflowsEntry: EXAMPLE_WORKFLOWS, handlersModule: REPO_HANDLERS_MODULE, auth });
    };
  }
  const ROLE = "arn:aws:iam::123456789012:role/ops";
  const jwtAuth = { type: "jwt", issuer: "https://auth.example.com/", audience: ["api"] } as const;

  it("an unknown action of a principal", () => {
    expect(build({ type: "iam", principals: { [ROLE]: { actions: ["read", "delete" as Action] } } })).toThrow(
      /auth\.principals\["arn:aws:iam::123456789012:role\/ops"\]\.actions: unknown action "delete" \(actions: start, read, signal, cancel, terminate, redrive, callback\)/,
    );
  });

  it("a tenant id that is not 1–64 characters of A–Z, a–z, 0–9, _ or -", () => {
    for (const tenant of ["", "a/b", "a b", "x".repeat(65)]) {
      expect(build({ type: "iam", tenants: true, principals: { [ROLE]: { tenant } } })).toThrow(/auth\.principals\[.*\]\.tenant must be a tenant id \(1–64 characters/);
    }
  });

  it("a scope prefix that is empty or holds a space or a colon", () => {
    for (const prefix of ["", "my app", "acme:workflows"]) {
      expect(build({ ...jwtAuth, scopes: { prefix } })).toThrow(/auth\.scopes\.prefix must be a non-empty string without spaces or colons/);
    }
  });

  it("tenants on with no principals: every caller would be refused", () => {
    expect(build({ type: "iam", tenants: true })).toThrow(/auth\.tenants is true but auth\.principals lists no principal/);
    expect(build({ type: "iam", tenants: true, principals: {} })).toThrow(/auth\.principals lists no principal/);
  });

  it("a principal keyed by something other than an ARN", () => {
    expect(build({ type: "iam", principals: { "role/ops": {} } })).toThrow(/auth\.principals\["role\/ops"\]: a principal is keyed by its IAM ARN/);
  });

  it("a principal's tenant while tenants are off (the tenant would be ignored)", () => {
    expect(build({ type: "iam", principals: { [ROLE]: { tenant: "a" } } })).toThrow(/names tenant "a" but auth\.tenants is not true/);
  });

  it("an empty tenantClaim", () => {
    expect(build({ ...jwtAuth, tenantClaim: "" })).toThrow(/auth\.tenantClaim must name a claim of the token/);
  });

  it("but accepts a principal without a tenant when tenants are on (refused at request time), and a custom prefix", () => {
    expect(build({ type: "iam", tenants: true, principals: { [ROLE]: {}, "arn:aws:iam::123456789012:role/a": { tenant: "a" } } })).not.toThrow();
    expect(build({ ...jwtAuth, scopes: { prefix: "acme-workflows" } })().authorizationPolicy).toEqual({ scopes: { prefix: "acme-workflows" } });
    expect(build({ ...jwtAuth, scopes: {}, tenantClaim: "custom:tenant" })().authorizationPolicy).toEqual({
      scopes: { prefix: "durable" },
      tenants: { claim: "custom:tenant" },
    });
  });
});

