/**
 * `durable viewer --url <api url>`: the execution viewer on localhost for a deployed API. The page
 * talks to a local proxy that signs each call with SigV4 from the standard AWS credential chain;
 * the credentials stay in this process.
 */
import { Command, Option } from "commander";
import { createAuthorizer } from "../../../lambdas/client/auth.js";
import { regionFromApiHost } from "../../../lambdas/client/sigv4.js";
import { DurableError } from "../../../lambdas/core/errors.js";
import { startViewerProxy, type ViewerProxy } from "../../viewer/proxy.js";
import { CliError } from "../cli-error.js";
import { portArgument } from "../dev/options.js";
import { isPortFree } from "../dev/port.js";
import { oneLineErrors } from "../one-line-errors.js";

export const DEFAULT_VIEWER_PORT = 3100;

export interface ViewerFlags {
  url: string;
  port: number;
  /** The port was asked for: no falling back to a free one. */
  portRequired?: boolean;
  region?: string;
}

export function viewerCommand(): Command {
  const command = new Command("viewer")
    .summary("browse a deployed API's executions in a browser, on localhost")
    .description(
      "Serves the execution viewer on 127.0.0.1 and passes its API calls on to a deployed durable-aws API, each signed " +
        "with SigV4 (execute-api) from the standard AWS credential chain (AWS_* variables, AWS_PROFILE, SSO, roles). " +
        "The browser talks only to localhost; the credentials never reach the page. For `durable dev`, open the viewer URL it prints instead.",
    )
    .requiredOption("--url <api-url>", "the deployed API's URL (the construct's apiUrl output)")
    .addOption(new Option("--port <number>", "the local port; if the default is taken, a free one (0: any free port)").default(DEFAULT_VIEWER_PORT).argParser(portArgument))
    .option("--region <region>", "the API's region (default: from an execute-api URL, else AWS_REGION)")
    .helpOption("-h, --help", "show help")
    .addHelpText("after", ["", "Examples:", "  durable viewer --url https://abc123.execute-api.eu-west-1.amazonaws.com", "  AWS_PROFILE=ops durable viewer --url https://workflows.example.com --region eu-west-1 --port 4000"].join("\n"))
    .action(async (flags: ViewerFlags, self: Command) => {
      const proxy = await startViewer({ ...flags, portRequired: self.getOptionValueSource("port") !== "default" }, process.env);
      console.log(
        [
          "",
          `durable viewer: ${new URL(flags.url).origin} through 127.0.0.1, each call signed with your AWS credentials`,
          "",
          `  open       ${proxy.viewerUrl}`,
          "",
          "Ctrl-C stops it.",
          "",
        ].join("\n"),
      );
      const stop = () => {
        proxy.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  return oneLineErrors(command);
}

/**
 * Checks the URL, the region and the credentials (a missing one fails here, in one line, not at
 * the page's first call), then starts the proxy.
 */
export async function startViewer(flags: ViewerFlags, env: NodeJS.ProcessEnv): Promise<ViewerProxy> {
  let apiUrl: URL;
  try {
    apiUrl = new URL(flags.url);
  } catch {
    throw new CliError("INVALID_URL", `--url ${flags.url} is not a URL`, "pass the API's URL, like https://abc123.execute-api.eu-west-1.amazonaws.com");
  }
  if (apiUrl.protocol !== "https:" && apiUrl.protocol !== "http:") throw new CliError("INVALID_URL", `--url ${flags.url} is not an http(s) URL`, "pass the API's https URL");
  const region = flags.region ?? regionFromApiHost(apiUrl.hostname) ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new CliError("REGION_NEEDED", `the region of ${apiUrl.host} cannot be told from its name`, "pass --region (or set AWS_REGION)");
  }
  const authorize = createAuthorizer({ type: "iam", region }, apiUrl);
  try {
    await authorize({ method: "GET", url: apiUrl, headers: {} });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    throw new CliError(
      error instanceof DurableError ? error.code : "CREDENTIALS_UNAVAILABLE",
      `no AWS credentials to sign the viewer's calls with (${cause.replace(/\.$/, "")})`,
      "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run aws sso login, then run durable viewer again",
      { cause: error },
    );
  }

  let port = flags.port;
  if (port !== 0 && !(await isPortFree(port))) {
    if (flags.portRequired) throw new CliError("PORT_IN_USE", `port ${port} is in use`, "stop what holds it, or pick another with --port (0: any free port)");
    port = 0;
  }
  return startViewerProxy({ apiUrl, authorize, port });
}
