/**
 * Everything the local stack listens on is reachable from this machine only: DynamoDB Local
 * (through its loopback launcher), the SQS emulator and the HTTP API bind 127.0.0.1. Checked by
 * connecting to each on an address of this machine that is not loopback, when it has one.
 */
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { describe, expect, inject, it } from "vitest";
import { startDynamoDBLocal } from "../../local/dynamodb-local.js";
import { serveHttpApi } from "../../local/http-api.js";
import { startSqsEmulator } from "../../local/sqs-emulator.js";

/** An address of this machine other than loopback (IPv4 first), if it has one. */
const external = Object.values(networkInterfaces())
  .flat()
  .filter((a) => a !== undefined && !a.internal && !(a.family === "IPv6" && a.address.startsWith("fe80")))
  .sort((a, b) => (a!.family === b!.family ? 0 : a!.family === "IPv4" ? -1 : 1))[0]?.address;

/** "connected", or the error code a connection attempt ended with. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve("TIMEOUT");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

const portOf = (endpoint: string) => Number(new URL(endpoint).port);

describe.skipIf(external === undefined)(`listening on loopback only (probed on ${external ?? "no other address"})`, () => {
  it("DynamoDB Local answers on 127.0.0.1 and refuses connections on another address", async () => {
    const port = portOf(inject("dynamoEndpoint"));
    expect(await tryConnect("127.0.0.1", port)).toBe("connected");
    expect(await tryConnect(external!, port)).not.toBe("connected");
  });

  it("DynamoDB Local says it is on loopback only", { timeout: 60_000 }, async () => {
    const ddb = await startDynamoDBLocal();
    try {
      expect(ddb.loopbackOnly).toBe(true);
      expect(ddb.bindNote).toBeUndefined();
      expect(await tryConnect(external!, ddb.port)).toBe("ECONNREFUSED");
    } finally {
      await ddb.stop();
    }
  });

  it("the SQS emulator answers on 127.0.0.1 only", async () => {
    const sqs = await startSqsEmulator();
    try {
      expect(await tryConnect("127.0.0.1", sqs.port)).toBe("connected");
      expect(await tryConnect(external!, sqs.port)).toBe("ECONNREFUSED");
    } finally {
      await sqs.stop();
    }
  });

  it("the HTTP API answers on 127.0.0.1 only", async () => {
    const api = await serveHttpApi({ handler: async () => ({ statusCode: 204 }) });
    try {
      expect(await tryConnect("127.0.0.1", api.port)).toBe("connected");
      expect(await tryConnect(external!, api.port)).toBe("ECONNREFUSED");
    } finally {
      await api.close();
    }
  });
});
