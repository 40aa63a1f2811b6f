import { execFileSync } from "node:child_process";

/** How many `java` processes `pid` started and are still running (Linux `ps`). */
export function javaChildren(pid: number): number {
  let out: string;
  try {
    out = execFileSync("ps", ["-o", "comm=", "--ppid", String(pid)], { encoding: "utf8" });
  } catch (error) {
    // ps exits 1 when the process has no children at all.
    if ((error as { status?: number }).status === 1) return 0;
    throw error;
  }
  return out.split("\n").filter((line) => line.trim() === "java").length;
}
