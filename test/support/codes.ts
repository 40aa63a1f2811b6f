/** The `code` a call's DurableError carries ("none" if it resolved), for asserting refusals. */
import { DurableError } from "../../lambdas/core/errors.js";

export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "none";
  } catch (err) {
    return err instanceof DurableError ? err.code : String(err);
  }
}
