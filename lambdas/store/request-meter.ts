/**
 * Counts every AWS request and the capacity it consumed, per operation, through an SDK middleware:
 * cost made visible in tests and benchmarks. Works on any SDK v3 client (DynamoDB, SQS).
 */

/** Any SDK v3 client, as far as adding a middleware goes. */
export interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (next: (args: { input: object }) => Promise<{ output: object }>, context: { commandName?: string }) => (args: { input: object }) => Promise<{ output: object }>,
      options: { step: "initialize"; name: string; override?: boolean },
    ): void;
  };
}

export interface OperationCount {
  requests: number;
  errors: number;
  writeUnits: number;
  readUnits: number;
}

export class RequestMeter {
  readonly byOperation = new Map<string, OperationCount>();

  /** Installs the meter on a client; asks DynamoDB to report consumed capacity. */
  attach(client: object, service: string): this {
    (client as MiddlewareClient).middlewareStack.add(
      (next, context) => async (args) => {
        const operation = `${service}.${(context.commandName ?? "Unknown").replace(/Command$/, "")}`;
        const count = this.entry(operation);
        count.requests += 1;
        if (service === "dynamodb" && !("ReturnConsumedCapacity" in args.input)) {
          args = { ...args, input: { ...args.input, ReturnConsumedCapacity: "TOTAL" } };
        }
        try {
          const result = await next(args);
          this.addCapacity(operation, count, (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
          return result;
        } catch (err) {
          count.errors += 1;
          throw err;
        }
      },
      { step: "initialize", name: `requestMeter-${service}`, override: true },
    );
    return this;
  }

  total(prefix = ""): OperationCount {
    const sum: OperationCount = { requests: 0, errors: 0, writeUnits: 0, readUnits: 0 };
    for (const [operation, count] of this.byOperation) {
      if (!operation.startsWith(prefix)) continue;
      sum.requests += count.requests;
      sum.errors += count.errors;
      sum.writeUnits += count.writeUnits;
      sum.readUnits += count.readUnits;
    }
    return sum;
  }

  reset(): void {
    this.byOperation.clear();
  }

  snapshot(): Record<string, OperationCount> {
    return Object.fromEntries([...this.byOperation.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  private entry(operation: string): OperationCount {
    let count = this.byOperation.get(operation);
    if (!count) {
      count = { requests: 0, errors: 0, writeUnits: 0, readUnits: 0 };
      this.byOperation.set(operation, count);
    }
    return count;
  }

  private addCapacity(operation: string, count: OperationCount, consumed: unknown): void {
    const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
    for (const c of list as { CapacityUnits?: number; WriteCapacityUnits?: number; ReadCapacityUnits?: number }[]) {
      if (c.WriteCapacityUnits !== undefined || c.ReadCapacityUnits !== undefined) {
        count.writeUnits += c.WriteCapacityUnits ?? 0;
        count.readUnits += c.ReadCapacityUnits ?? 0;
      } else if (c.CapacityUnits !== undefined) {
        // Only the total came back: attribute it by operation kind.
        if (/Put|Update|Delete|Write/.test(operation)) count.writeUnits += c.CapacityUnits;
        else count.readUnits += c.CapacityUnits;
      }
    }
  }
}
