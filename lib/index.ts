/**
 * `durable-aws/cdk`: the `DurableWorkflows` construct. `aws-cdk-lib` and `constructs` come from
 * your app (peer dependencies).
 *
 * @example
 * new DurableWorkflows(this, "Workflows", { workflowsEntry: path.join(__dirname, "workflows.ts") });
 */
export {
  API_ROUTES,
  DurableWorkflows,
  type DurableWorkflowsAuth,
  type DurableWorkflowsIamAuth,
  type DurableWorkflowsJwtAuth,
  type DurableWorkflowsPayloads,
  type DurableWorkflowsProps,
  TABLE_INDEXES,
} from "./durable-workflows.js";
export { type Action, ACTIONS, API_ROUTE_ACTIONS, type AuthorizationPolicy, type PrincipalGrant, routesFor } from "../lambdas/core/permissions.js";
export type { DurableWorkflowsAlarms } from "./alarms.js";
export type { DurableEventStart } from "./starts.js";
export type { ScheduleDefinition } from "../lambdas/starts/definitions.js";
