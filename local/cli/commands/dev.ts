/** `durable dev [workflows-file]`: flags → DevOptions → the dev server, until Ctrl-C. */
import { Command, Option } from "commander";
import { DEFAULT_PORT, portArgument, resolveDevOptions } from "../dev/options.js";
import { DEFAULT_WORKFLOWS_FILES } from "../dev/project.js";
import { startDevServer, stopOnSignals } from "../dev/run-dev.js";
import { oneLineErrors } from "../one-line-errors.js";

interface DevCommandFlags {
  port: number;
  token?: string;
  dataDir?: string;
  inMemory?: boolean;
  watch: boolean;
  tenant: string[];
  encryptValues?: boolean;
}

export function devCommand(): Command {
  const command = new Command("dev")
    .summary("serve your workflows locally, reloading them on every save")
    .description(
      "Serves the workflows of a file on this machine, as they run on AWS: DynamoDB Local (Java 17+), an SQS emulator, " +
        "the HTTP API and the worker, all on 127.0.0.1. The file must export `workflows`, an array of definitions; " +
        "TypeScript is fine. A save of the file or of anything it imports reloads the workflows.",
    )
    .argument("[workflows-file]", `the file that exports \`workflows\` (default: ${DEFAULT_WORKFLOWS_FILES.join(", then ")})`)
    .addOption(new Option("--port <number>", "the API's port; if the default is taken, a free one (0: any free port)").default(DEFAULT_PORT).argParser(portArgument))
    .addOption(new Option("--token <token>", "the bearer token the API requires (default: DURABLE_TOKEN, else random)"))
    .addOption(new Option("--data-dir <folder>", "where executions are kept (default: <project>/.durable/data)").conflicts("inMemory"))
    .addOption(new Option("--in-memory", "keep nothing: every start is empty"))
    .option("--no-watch", "do not reload on changes")
    .addOption(
      new Option("--tenant <id>", "keep executions per tenant and print a token for this one (repeat for more)")
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .default([]),
    )
    .option("--encrypt-values", "seal every stored value (gzip, then AES-256-GCM data keys under a local key in <project>/.durable/payload-key), as a KMS key does when deployed")
    .helpOption("-h, --help", "show help")
    .addHelpText(
      "after",
      [
        "",
        "<project> is the folder of the nearest package.json above the workflows file; the bundle goes to <project>/.durable/build.",
        "",
        "Examples:",
        "  durable dev                          # workflows.ts or src/workflows.ts",
        "  durable dev src/flows/index.ts --port 4000 --token dev-token",
        "  durable dev --in-memory --no-watch",
        "  durable dev --tenant a --tenant b     # one token per tenant; each sees its own executions alone",
        "  durable dev --encrypt-values          # no value in clear in DynamoDB Local or the S3 emulator",
      ].join("\n"),
    )
    .action(async (file: string | undefined, flags: DevCommandFlags, self: Command) => {
      const options = await resolveDevOptions(
        {
          ...(file === undefined ? {} : { workflowsFile: file }),
          port: flags.port,
          // The default port may fall back to a free one; a port asked for may not.
          portRequired: self.getOptionValueSource("port") !== "default",
          ...(flags.token === undefined ? {} : { token: flags.token }),
          ...(flags.dataDir === undefined ? {} : { dataDir: flags.dataDir }),
          inMemory: flags.inMemory ?? false,
          watch: flags.watch,
          tenants: flags.tenant,
          encryptValues: flags.encryptValues ?? false,
        },
        { cwd: process.cwd(), env: process.env },
      );
      const server = await startDevServer(options);
      stopOnSignals(server);
    });
  return oneLineErrors(command);
}
