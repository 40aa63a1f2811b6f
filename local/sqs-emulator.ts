/**
 * Starts fauxqs, an in-process SQS emulator, on loopback.
 *
 * Pitfalls (checked with fauxqs 1.9.2):
 * - Queue URLs it hands out have the host `sqs.<region>.localhost`, which
 *   does not resolve here. SQS clients must always set `endpoint` (the SDK
 *   then sends to the endpoint whatever the queue URL says).
 * - It keeps nothing on disk: after a restart every queue is empty.
 * - It accepts `DelaySeconds` above 900, which real SQS rejects.
 */
import type { AddressInfo } from "node:net";
import { buildApp } from "fauxqs";

export interface SqsEmulatorOptions {
  /** Port to listen on; a free one when left out. */
  port?: number;
}

export interface RunningSqsEmulator {
  /** `http://127.0.0.1:<port>`: give it to the SQS client as `endpoint`. */
  endpoint: string;
  port: number;
  /** Closes the server; resolves once it stopped. */
  stop(): Promise<void>;
}

/**
 * Starts the SQS emulator on 127.0.0.1.
 *
 * `startFauxqs` always listens on 0.0.0.0 (its `host` option only sets the
 * host written into queue URLs), so we build the same app with the
 * documented `buildApp` and listen on loopback ourselves.
 *
 * @example
 * const sqs = await startSqsEmulator();
 * const client = new SQSClient({ endpoint: sqs.endpoint, region: "us-east-1", credentials });
 * await sqs.stop();
 */
export async function startSqsEmulator(opts: SqsEmulatorOptions = {}): Promise<RunningSqsEmulator> {
  const app = buildApp({ logger: false });
  await app.listen({ port: opts.port ?? 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: (): Promise<void> => {
      stopping ??= (async () => {
        await app.close();
      })();
      return stopping;
    },
  };
}
