/** The operator commands, in the order `durable --help` lists them. */
import type { Command } from "commander";
import { bulkCommand } from "./bulk.js";
import { cancelCommand } from "./cancel.js";
import { getCommand } from "./get.js";
import { historyCommand } from "./history.js";
import { listCommand } from "./list.js";
import { redriveCommand } from "./redrive.js";
import { resultCommand } from "./result.js";
import { signalCommand } from "./signal.js";
import { startCommand } from "./start.js";
import { terminateCommand } from "./terminate.js";
import { valueCommand } from "./value.js";
import { watchCommand } from "./watch.js";

export function operatorCommands(): Command[] {
  return [startCommand(), getCommand(), listCommand(), historyCommand(), valueCommand(), watchCommand(), resultCommand(), signalCommand(), cancelCommand(), terminateCommand(), redriveCommand(), bulkCommand()];
}
