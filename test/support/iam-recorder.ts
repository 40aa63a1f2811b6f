/**
 * Records what IAM would be asked to authorize for each request an SDK client sends: the action
 * and the resource. Installed as a middleware on the DynamoDB and SQS clients of one function, it
 * lets a test hold the calls the function's code really makes against the grants its role gets
 * in the synthesized template (test/infra/grants.test.ts), so a new call without a permission
 * fails locally instead of in AWS, where the local services check nothing.
 *
 * A request is recorded before it is sent, whatever its outcome: IAM decides before DynamoDB
 * evaluates a condition or SQS looks at a receipt handle, so a call that fails for those reasons
 * still needs its permission.
 */
import type { InitializeMiddleware, MiddlewareStack } from "@smithy/types";

export type AwsService = "dynamodb" | "sqs";

/** One authorization IAM makes: `dynamodb:PutItem` on `table`. */
export interface Authorization {
  /** The IAM action, with its service prefix. */
  readonly action: string;
  /** The resource by the name the grants use (`RecorderResources`), e.g. `table/index/byStatus`. */
  readonly resource: string;
}

/** Real names to the names the grants use: table name -> `table`, queue URL -> `queue` or `dlq`. */
export interface RecorderResources {
  readonly tables: Readonly<Record<string, string>>;
  readonly queues: Readonly<Record<string, string>>;
}

/** An authorization and the API operation that needed it. */
export interface RecordedRequest extends Authorization {
  readonly operation: string;
}

/** Every distinct authorization recorded, with the operations that needed it. */
export interface RecordedAuthorization extends Authorization {
  readonly operations: readonly string[];
}

/**
 * IAM has no action for a transaction: it authorizes each item as the single-item operation it
 * is (DynamoDB developer guide, "Using IAM with DynamoDB transactions").
 */
const TRANSACT_WRITE_ACTIONS: Readonly<Record<string, string>> = {
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  ConditionCheck: "ConditionCheckItem",
};
const TRANSACT_GET_ACTIONS: Readonly<Record<string, string>> = { Get: "GetItem" };

/** SQS authorizes a batch as the single-message action (SQS API reference, each *Batch action). */
const SQS_BATCH_ACTIONS: Readonly<Record<string, string>> = {
  SendMessageBatch: "SendMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
};

/**
 * What IAM authorizes for one request. An operation or a resource it does not know is still
 * recorded (the operation as its own action, the resource as `unknown ...`), so that it fails
 * the comparison with the grants instead of slipping through.
 *
 * @example
 * authorizationsOf("sqs", "SendMessageBatch", { QueueUrl: url }, { tables: {}, queues: { [url]: "queue" } });
 * // [{ action: "sqs:SendMessage", resource: "queue" }]
 */
export function authorizationsOf(service: AwsService, operation: string, input: object, resources: RecorderResources): Authorization[] {
  const fields = input as Readonly<Record<string, unknown>>;
  return service === "dynamodb" ? dynamoAuthorizations(operation, fields, resources.tables) : sqsAuthorizations(operation, fields, resources.queues);
}

function dynamoAuthorizations(operation: string, input: Readonly<Record<string, unknown>>, tables: RecorderResources["tables"]): Authorization[] {
  const table = (name: unknown): string => tables[String(name)] ?? `unknown table ${String(name)}`;
  switch (operation) {
    case "TransactWriteItems":
    case "TransactGetItems": {
      const actions = operation === "TransactWriteItems" ? TRANSACT_WRITE_ACTIONS : TRANSACT_GET_ACTIONS;
      return records(input.TransactItems).map((item) => {
        const kind = Object.keys(item).find((k) => k in actions);
        const part = kind === undefined ? undefined : item[kind];
        if (kind === undefined || !isRecord(part)) return { action: `dynamodb:${operation}`, resource: "an item of no known kind" };
        return { action: `dynamodb:${actions[kind]}`, resource: table(part.TableName) };
      });
    }
    // Unlike a transaction, a batch is its own action: the Service Authorization Reference maps
    // BatchWriteItem to dynamodb:BatchWriteItem (PutItem and DeleteItem do not allow it) and
    // BatchGetItem to dynamodb:BatchGetItem, on every table it names.
    case "BatchWriteItem":
    case "BatchGetItem":
      return Object.keys(isRecord(input.RequestItems) ? input.RequestItems : {}).map((name) => ({ action: `dynamodb:${operation}`, resource: table(name) }));
    case "Query":
    case "Scan":
      return [
        {
          action: `dynamodb:${operation}`,
          resource: input.IndexName === undefined ? table(input.TableName) : `${table(input.TableName)}/index/${String(input.IndexName)}`,
        },
      ];
    default:
      return [{ action: `dynamodb:${operation}`, resource: table(input.TableName) }];
  }
}

function sqsAuthorizations(operation: string, input: Readonly<Record<string, unknown>>, queues: RecorderResources["queues"]): Authorization[] {
  const resource =
    input.QueueUrl === undefined ? `queue named ${String(input.QueueName)}` : (queues[String(input.QueueUrl)] ?? `unknown queue ${String(input.QueueUrl)}`);
  return [{ action: `sqs:${SQS_BATCH_ACTIONS[operation] ?? operation}`, resource }];
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function records(value: unknown): Readonly<Record<string, unknown>>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/**
 * Collects the authorizations of every request made through the clients it is attached to.
 * One recorder per Lambda function: each has its own role.
 *
 * @example
 * const recorder = new IamRecorder({ tables: { [tableName]: "table" }, queues: { [queueUrl]: "queue" } });
 * recorder.attach(clients.dynamo, "dynamodb").attach(clients.sqs, "sqs");
 */
export class IamRecorder {
  readonly requests: RecordedRequest[] = [];

  constructor(private readonly resources: RecorderResources) {}

  /**
   * Installs the recorder on a client. On a DynamoDB client it also sees the requests of the
   * document clients made from it: they share its middleware stack.
   */
  attach<Input extends object, Output extends object>(client: { middlewareStack: MiddlewareStack<Input, Output> }, service: AwsService): this {
    const record: InitializeMiddleware<Input, Output> = (next, context) => async (args) => {
      const operation = (context.commandName ?? "UnknownCommand").replace(/Command$/, "");
      for (const authorization of authorizationsOf(service, operation, args.input, this.resources)) {
        this.requests.push({ ...authorization, operation });
      }
      return next(args);
    };
    client.middlewareStack.add(record, { step: "initialize", name: `iamRecorder-${service}`, override: true });
    return this;
  }

  /** Each distinct (action, resource) once, sorted, with the operations that needed it. */
  authorizations(): RecordedAuthorization[] {
    const byKey = new Map<string, { action: string; resource: string; operations: Set<string> }>();
    for (const r of this.requests) {
      const key = `${r.action} on ${r.resource}`;
      const entry = byKey.get(key) ?? { action: r.action, resource: r.resource, operations: new Set<string>() };
      entry.operations.add(r.operation);
      byKey.set(key, entry);
    }
    return [...byKey.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, e]) => ({ action: e.action, resource: e.resource, operations: [...e.operations].sort() }));
  }
}
