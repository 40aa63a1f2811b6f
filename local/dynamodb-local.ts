/**
 * Gets and starts DynamoDB Local, the real AWS software (a Java program).
 *
 * The JAR travels inside the npm package `amplify-dynamodb-simulator`, which
 * we never install (it pulls ~280 packages): we `npm pack` it once, check it
 * against pinned hashes, and keep only its `emulator/` folder in a per-user
 * cache (durableCacheDir). AWS's own download URL is not reachable offline;
 * the npm registry is.
 *
 * Why not the npm package `dynamodb-local` (checked: 0.0.38) to run the JAR:
 * - it cannot keep DynamoDB Local on 127.0.0.1: it always runs
 *   `java -jar DynamoDBLocal.jar` (javaOpts is a single argument before
 *   `-jar`), so the loopback launcher below cannot be used;
 * - `launch()` resolves when the process is spawned, not when it answers, and
 *   never sees a port already taken (Jetty logs a BindException and the JVM
 *   lives on); we wait for ListTables from our own JVM's socket;
 * - `stopChild()` sends SIGTERM and returns at once: no wait for the exit,
 *   no SIGKILL after a grace period, so a restart can race the old JVM for
 *   the port and the data folder; nothing kills the JVM on Ctrl-C or SIGTERM
 *   (only a per-launch `exit` listener, which a signal death never runs);
 * - `java` is fixed (no DURABLE_JAVA), there is no Java version check, and
 *   the JVM's stderr goes straight to our terminal;
 * - when the JAR is missing from `installPath` it downloads AWS's
 *   `dynamodb_local_latest` over HTTPS with no hash check, which would undo
 *   the pinned verification below.
 * So we keep our own process handling; the fetch-and-verify part is ours too.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { x as extractTar } from "tar";

export const DYNAMODB_LOCAL_VERSION = "1.25.1";

/** The npm package that carries DynamoDB Local 1.25.1 under `emulator/`. */
const CARRIER_SPEC = "amplify-dynamodb-simulator@2.9.30";
/** `npm view amplify-dynamodb-simulator@2.9.30 dist.integrity` */
const CARRIER_INTEGRITY =
  "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ==";
/**
 * The package's `emulator/sha256` file is NOT a hash of the JAR: it is the
 * sha256 of AWS's `dynamodb_local_latest.tar.gz` the package was built from
 * (see its scripts/update-ddb-simulator.js). We check that it names the
 * upstream archive we expect, and check the JAR against its own pinned hash.
 */
const UPSTREAM_ARCHIVE_SHA256 = "55b425a9a42cfc728436eaf0e4ae64d688b64d177c99c4f4c4d7e3dbb3ac6c09";
const JAR_SHA256 = "454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7";

const JAR = "DynamoDBLocal.jar";
const NATIVE_LIBS = "DynamoDBLocal_lib";
/** Written last, before the atomic rename: its presence means "verified". */
const VERIFIED_MARKER = ".verified-sha256";

const MIN_JAVA_MAJOR = 17;
const NPM_PACK_TIMEOUT_MS = 5 * 60_000;
const JAVA_VERSION_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;
const STOP_GRACE_MS = 3_000;
const OUTPUT_TAIL_CHARS = 8_000;

// ---------------------------------------------------------------- errors

/** Base class of every error this module throws. */
export class DynamoDBLocalError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DynamoDBLocalError";
    this.code = code;
  }
}

export class JavaNotFoundError extends DynamoDBLocalError {
  override readonly code = "JAVA_NOT_FOUND";
  constructor(readonly javaCommand: string, options?: { cause?: unknown }) {
    super(
      "JAVA_NOT_FOUND",
      javaCommand === "java"
        ? "DynamoDB Local needs Java 17+ on PATH: install a JDK (e.g. apt-get install openjdk-17-jre-headless) and retry."
        : `DynamoDB Local needs Java 17+: ${javaCommand} (from DURABLE_JAVA or the java option) was not found; point it at a Java 17+ binary or unset it to use java on PATH.`,
      options,
    );
    this.name = "JavaNotFoundError";
  }
}

export class JavaVersionError extends DynamoDBLocalError {
  override readonly code = "JAVA_TOO_OLD";
  constructor(
    readonly javaCommand: string,
    readonly foundVersion: string,
  ) {
    super(
      "JAVA_TOO_OLD",
      `DynamoDB Local needs Java 17+, but ${javaCommand} is version ${foundVersion}: install a JDK 17+ (e.g. apt-get install openjdk-17-jre-headless), put it first on PATH or set DURABLE_JAVA, and retry.`,
    );
    this.name = "JavaVersionError";
  }
}

export class DynamoDBLocalDownloadError extends DynamoDBLocalError {
  override readonly code = "DYNAMODB_LOCAL_DOWNLOAD_FAILED";
  constructor(message: string, options?: { cause?: unknown }) {
    super("DYNAMODB_LOCAL_DOWNLOAD_FAILED", message, options);
    this.name = "DynamoDBLocalDownloadError";
  }
}

export class DynamoDBLocalIntegrityError extends DynamoDBLocalError {
  override readonly code = "DYNAMODB_LOCAL_INTEGRITY";
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      "DYNAMODB_LOCAL_INTEGRITY",
      `${file} does not match its pinned hash (expected ${expected}, got ${actual}): refusing to run it.`,
    );
    this.name = "DynamoDBLocalIntegrityError";
  }
}

export class DynamoDBLocalStartError extends DynamoDBLocalError {
  override readonly code = "DYNAMODB_LOCAL_START_FAILED";
  constructor(
    message: string,
    readonly output: string,
    options?: { cause?: unknown },
  ) {
    super("DYNAMODB_LOCAL_START_FAILED", message, options);
    this.name = "DynamoDBLocalStartError";
  }
}

export class DynamoDBLocalPortInUseError extends DynamoDBLocalError {
  override readonly code = "DYNAMODB_LOCAL_PORT_IN_USE";
  constructor(readonly port: number) {
    super(
      "DYNAMODB_LOCAL_PORT_IN_USE",
      `DynamoDB Local cannot listen on port ${port}: another process holds it. Stop that process or pick another port (leave port out to get a free one).`,
    );
    this.name = "DynamoDBLocalPortInUseError";
  }
}

// ---------------------------------------------------------------- install

/**
 * Where durable-aws keeps what it fetches once per machine: `DURABLE_CACHE_DIR`,
 * else `$XDG_CACHE_HOME/durable-aws`, else `~/.cache/durable-aws`. Per user,
 * not per project or package: every project shares one DynamoDB Local, and
 * `npm ci` (which empties node_modules) does not fetch it again.
 */
export function durableCacheDir(): string {
  const override = process.env.DURABLE_CACHE_DIR;
  if (override) return resolve(override);
  const xdg = process.env.XDG_CACHE_HOME;
  // The XDG spec says a relative XDG_CACHE_HOME is invalid and to be ignored.
  if (xdg && isAbsolute(xdg)) return join(xdg, "durable-aws");
  return join(homedir(), ".cache", "durable-aws");
}

/** `<durableCacheDir()>/dynamodb-local/1.25.1`, or `DURABLE_DYNAMODB_LOCAL_DIR`. */
export function dynamoDBLocalDir(): string {
  const override = process.env.DURABLE_DYNAMODB_LOCAL_DIR;
  if (override) return resolve(override);
  return join(durableCacheDir(), "dynamodb-local", DYNAMODB_LOCAL_VERSION);
}

/** Whether DynamoDB Local is fetched and verified already (so a start will not download ~56 MB). */
export function isDynamoDBLocalInstalled(): Promise<boolean> {
  return isVerifiedInstall(dynamoDBLocalDir());
}

/** Calls in this process share one download. */
const inFlight = new Map<string, Promise<string>>();

/**
 * Returns the folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib/`,
 * fetching and verifying it on first use (one `npm pack`, ~56 MB). Later
 * calls only look at the disk. Safe when several processes call it at once.
 *
 * @example
 * const dir = await ensureDynamoDBLocal(); // "~/.cache/durable-aws/dynamodb-local/1.25.1"
 */
export async function ensureDynamoDBLocal(): Promise<string> {
  const dir = dynamoDBLocalDir();
  if (await isVerifiedInstall(dir)) return dir;
  let pending = inFlight.get(dir);
  if (!pending) {
    pending = install(dir).finally(() => inFlight.delete(dir));
    inFlight.set(dir, pending);
  }
  return pending;
}

async function isVerifiedInstall(dir: string): Promise<boolean> {
  try {
    const [jar, libs] = await Promise.all([stat(join(dir, JAR)), stat(join(dir, NATIVE_LIBS))]);
    if (!jar.isFile() || !libs.isDirectory()) return false;
  } catch {
    return false;
  }
  const marker = await readFile(join(dir, VERIFIED_MARKER), "utf8").catch(() => undefined);
  if (marker !== undefined) return marker.trim() === JAR_SHA256;
  // A folder someone filled by hand (no marker): accept the exact same JAR.
  return (await sha256File(join(dir, JAR))) === JAR_SHA256;
}

async function install(dir: string): Promise<string> {
  await refuseForeignFolder(dir);
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeAbandonedDownloads(parent);
  // The work folder sits next to the target so the final rename stays on one
  // file system (a rename across devices is neither atomic nor allowed).
  const work = await mkdtemp(join(parent, `.download-${process.pid}-`));
  try {
    const tarball = await packCarrier(work);
    const integrity = `sha512-${await hashFile(tarball, "sha512", "base64")}`;
    if (integrity !== CARRIER_INTEGRITY) {
      throw new DynamoDBLocalIntegrityError(basename(tarball), CARRIER_INTEGRITY, integrity);
    }

    const unpacked = join(work, "unpacked");
    await mkdir(unpacked);
    await extractTar({ file: tarball, cwd: unpacked }, ["package/emulator"]);
    await rm(tarball, { force: true });
    const emulator = join(unpacked, "package", "emulator");

    const upstream = (await readFile(join(emulator, "sha256"), "utf8").catch(() => "")).trim();
    if (upstream !== UPSTREAM_ARCHIVE_SHA256) {
      throw new DynamoDBLocalIntegrityError("emulator/sha256", UPSTREAM_ARCHIVE_SHA256, upstream || "(missing)");
    }
    const jarHash = await sha256File(join(emulator, JAR));
    if (jarHash !== JAR_SHA256) throw new DynamoDBLocalIntegrityError(JAR, JAR_SHA256, jarHash);
    await writeFile(join(emulator, VERIFIED_MARKER), `${JAR_SHA256}\n`);

    await publish(emulator, dir);
    return dir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Moves a verified folder into place. When another process got there first
 * its folder is as good as ours, so losing the race is fine; a folder of
 * ours that fails the check (damaged since) is moved aside and replaced.
 */
async function publish(verified: string, dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(verified, dir);
      return;
    } catch (error) {
      if (!isCode(error, "ENOTEMPTY", "EEXIST", "EPERM", "EACCES")) throw error;
      if (await isVerifiedInstall(dir)) return;
      if (attempt > 0) throw error;
      await refuseForeignFolder(dir);
      const aside = `${dir}.stale-${process.pid}-${Date.now()}`;
      await rename(dir, aside).catch(() => undefined);
      await rm(aside, { recursive: true, force: true });
    }
  }
}

/**
 * A non-empty folder without our marker is someone's own (say, another
 * DynamoDB Local version behind DURABLE_DYNAMODB_LOCAL_DIR): never replace it.
 */
async function refuseForeignFolder(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((): string[] => []);
  if (entries.length === 0 || entries.includes(VERIFIED_MARKER)) return;
  throw new DynamoDBLocalError(
    "DYNAMODB_LOCAL_DIR_OCCUPIED",
    `${dir} exists but does not hold DynamoDB Local ${DYNAMODB_LOCAL_VERSION} (${JAR} with sha256 ${JAR_SHA256}): empty it, or point DURABLE_DYNAMODB_LOCAL_DIR at another folder.`,
  );
}

/** Work folders left by a process that died mid-download (Ctrl-C) hold ~120 MB; mid-compile, a few KB. */
async function removeAbandonedDownloads(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch((): string[] => [])) {
    const pid = Number(/^\.(?:download|launcher)-(\d+)-/.exec(name)?.[1]);
    if (pid && !isAlive(pid)) await rm(join(parent, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !isCode(error, "ESRCH");
  }
}

/** Runs `npm pack <carrier>` into `work` and returns the tarball's path. */
async function packCarrier(work: string): Promise<string> {
  const [command, prefixArgs] = npmCommand();
  const args = [...prefixArgs, "pack", CARRIER_SPEC, "--pack-destination", work, "--ignore-scripts", "--loglevel=error"];
  try {
    await execFileText(command, args, { cwd: work, timeoutMs: NPM_PACK_TIMEOUT_MS });
  } catch (error) {
    const detail = error instanceof ExecError ? npmGist(error.stderr) || error.message : String(error);
    throw new DynamoDBLocalDownloadError(
      `Could not fetch ${CARRIER_SPEC} (it carries DynamoDB Local ${DYNAMODB_LOCAL_VERSION}) with npm pack: ${detail}`,
      { cause: error },
    );
  }
  const tarball = (await readdir(work)).find((name) => name.endsWith(".tgz"));
  if (!tarball) throw new DynamoDBLocalDownloadError(`npm pack ${CARRIER_SPEC} wrote no tarball into ${work}`);
  return join(work, tarball);
}

/** The line of npm's error output that says what went wrong. */
function npmGist(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.replace(/^npm (error|ERR!)\s*/, "").trim())
    .filter((line) => line && !line.startsWith("at ") && !line.startsWith("A complete log"));
  return lines.find((line) => /failed|not found|\b404\b|Error:/i.test(line)) ?? lines[0] ?? "";
}

/** The npm running us (under `npm test`/`npx`), else `npm` on PATH. */
function npmCommand(): [string, string[]] {
  const execPath = process.env.npm_execpath;
  // pnpm and yarn also set npm_execpath; their `pack` means something else.
  if (execPath && /^npm-cli\.c?js$/.test(basename(execPath))) return [process.execPath, [execPath]];
  return ["npm", []];
}

// ---------------------------------------------------------------- java

/**
 * Checks that `java` runs and is 17+. `java` is the command to run:
 * `opts.java`, else `DURABLE_JAVA`, else `java` from PATH.
 */
export async function checkJava(java = javaCommand()): Promise<{ major: number; version: string }> {
  let output: string;
  try {
    // `java -version` prints to stderr.
    const { stdout, stderr } = await execFileText(java, ["-version"], { timeoutMs: JAVA_VERSION_TIMEOUT_MS });
    output = `${stderr}\n${stdout}`;
  } catch (error) {
    const cause = error instanceof ExecError ? error.cause : error;
    if (isCode(cause, "ENOENT", "EACCES")) throw new JavaNotFoundError(java, { cause });
    const detail = error instanceof ExecError ? lastLine(error.stderr) || error.message : String(error);
    throw new DynamoDBLocalStartError(`${java} -version failed: ${detail}`, detail, { cause: error });
  }
  const version = /version "([^"]+)"/.exec(output)?.[1];
  if (!version) throw new JavaVersionError(java, `unknown (${lastLine(output) || "no output"})`);
  const [first, second] = version.split(/[.+_-]/).map(Number);
  // Java 8 and older call themselves "1.8.0_x".
  const major = first === 1 ? (second ?? 0) : (first ?? 0);
  if (!(major >= MIN_JAVA_MAJOR)) throw new JavaVersionError(java, version);
  return { major, version };
}

function javaCommand(): string {
  return process.env.DURABLE_JAVA || "java";
}

// ---------------------------------------------------------------- loopback

const LAUNCHER_CLASS = "DurableLoopbackDynamoDBLocal";
const LAUNCHER_COMPILE_TIMEOUT_MS = 60_000;
const LOOPBACK_HOST = "127.0.0.1";

/**
 * DynamoDB Local has no host option (`-help` lists none in 1.25.1), and its
 * DynamoDBProxyServer makes Jetty's `new Server(port)`, whose connector has no
 * host and so binds every interface. This launcher builds the server exactly
 * as DynamoDB Local's own main does (`createServerFromCommandLineArgs`, same
 * arguments), sets 127.0.0.1 on the Jetty connector before it starts, and
 * starts it. It skips the main's telemetry set-up, which we disable anyway.
 * The field read by reflection is private: pinned to the JAR we verify.
 */
const LAUNCHER_SOURCE = `import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** Generated by durable-aws (local/dynamodb-local.ts): DynamoDB Local on ${LOOPBACK_HOST} only. */
public final class ${LAUNCHER_CLASS} {
  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    for (Connector connector : jetty.getConnectors()) ((ServerConnector) connector).setHost("${LOOPBACK_HOST}");
    proxy.start();
  }
}
`;

type Launcher = { kind: "loopback"; classDir: string } | { kind: "wildcard"; reason: string };

const launchers = new Map<string, Promise<Launcher>>();

/**
 * The compiled loopback launcher, compiled on first use into the cache with
 * the `jdk.compiler` module of the same Java (one class, ~1.5 s, once per
 * Java major version). A Java without that module (a bare JRE) cannot compile
 * it: DynamoDB Local then binds every interface as it does on its own, and
 * `reason` says so.
 */
function loopbackLauncher(java: string, javaMajor: number, dynamoDir: string): Promise<Launcher> {
  const version = createHash("sha256").update(`${LAUNCHER_SOURCE}\n${JAR_SHA256}`).digest("hex").slice(0, 12);
  const classDir = join(durableCacheDir(), "dynamodb-local", `launcher-${version}-java${javaMajor}`);
  let pending = launchers.get(`${java}\n${classDir}`);
  if (!pending) {
    pending = compileLauncher(java, dynamoDir, classDir);
    launchers.set(`${java}\n${classDir}`, pending);
  }
  return pending;
}

async function compileLauncher(java: string, dynamoDir: string, classDir: string): Promise<Launcher> {
  const classFile = join(classDir, `${LAUNCHER_CLASS}.class`);
  if (await stat(classFile).then((s) => s.isFile(), () => false)) return { kind: "loopback", classDir };
  const parent = dirname(classDir);
  let work: string | undefined;
  try {
    await mkdir(parent, { recursive: true });
    // Compiled next to its final place and renamed in: another process never sees half a class.
    work = await mkdtemp(join(parent, `.launcher-${process.pid}-`));
    const source = join(work, `${LAUNCHER_CLASS}.java`);
    await writeFile(source, LAUNCHER_SOURCE);
    const classPath = [join(dynamoDir, JAR), join(dynamoDir, NATIVE_LIBS, "*")].join(delimiter);
    await execFileText(java, ["--module", "jdk.compiler/com.sun.tools.javac.Main", "-nowarn", "-cp", classPath, "-d", work, source], {
      timeoutMs: LAUNCHER_COMPILE_TIMEOUT_MS,
    });
    await rm(source, { force: true });
    await rename(work, classDir).catch(async (error: unknown) => {
      // Another process compiled the same source first: its class is as good as ours.
      if (!(await stat(classFile).then((s) => s.isFile(), () => false))) throw error;
    });
    return { kind: "loopback", classDir };
  } catch (error) {
    const stderr = error instanceof ExecError ? error.stderr : "";
    const reason = /module jdk\.compiler not found/i.test(stderr)
      ? `${java} has no Java compiler (module jdk.compiler) to build the launcher that binds it to ${LOOPBACK_HOST}; install a full JDK 17+ to keep it on loopback`
      : `the launcher that binds it to ${LOOPBACK_HOST} did not compile (${lastLine(stderr) || (error instanceof Error ? error.message : String(error))})`;
    return { kind: "wildcard", reason };
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- start

export interface DynamoDBLocalOptions {
  /** Port to listen on; a free one when left out. */
  port?: number;
  /** Keep data in this folder (created if missing); in memory when left out. */
  dbPath?: string;
  /** Java command; defaults to `DURABLE_JAVA`, then `java` on PATH. */
  java?: string;
}

export interface RunningDynamoDBLocal {
  /** `http://127.0.0.1:<port>`: give it to the SDK client as `endpoint`. */
  endpoint: string;
  port: number;
  /** True when it listens on 127.0.0.1 only (the loopback launcher ran); false when on every interface. */
  loopbackOnly: boolean;
  /** When not `loopbackOnly`: one line saying so, why, and what to do. */
  bindNote?: string;
  /** Stops the JVM (SIGTERM, SIGKILL after 3 s); resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local and resolves once it answers `ListTables`.
 *
 * Runs with `-sharedDb`: without it DynamoDB Local keeps one database per
 * access key and region, so a client with other credentials (the AWS CLI
 * with a real profile, say) would silently see no tables.
 *
 * Listens on 127.0.0.1 only, through the loopback launcher; where that
 * launcher cannot be compiled (a JRE without `jdk.compiler`) on every
 * interface, with `loopbackOnly: false` and a `bindNote` saying so.
 *
 * @example
 * const ddb = await startDynamoDBLocal({ dbPath: ".data" });
 * const client = new DynamoDBClient({ endpoint: ddb.endpoint, region: "us-east-1", credentials });
 * await ddb.stop();
 */
export async function startDynamoDBLocal(opts: DynamoDBLocalOptions = {}): Promise<RunningDynamoDBLocal> {
  const java = opts.java ?? javaCommand();
  // Before the download: no point fetching 56 MB for a machine without Java.
  const { major } = await checkJava(java);
  const dir = await ensureDynamoDBLocal();
  const launcher = await loopbackLauncher(java, major, dir);
  const dbPath = opts.dbPath === undefined ? undefined : resolve(opts.dbPath);
  if (dbPath !== undefined) await mkdir(dbPath, { recursive: true });

  // A port picked free can be taken before Java binds it; pick again then.
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      // Checked first because the readiness probe cannot tell our JVM from
      // whatever already answers on that port.
      if (opts.port !== undefined && !(await isPortFree(port))) throw new DynamoDBLocalPortInUseError(port);
      return await launch({ java, dir, port, dbPath, launcher });
    } catch (error) {
      if (opts.port === undefined && error instanceof DynamoDBLocalPortInUseError && attempt < 3) continue;
      throw error;
    }
  }
}

async function launch(args: {
  java: string;
  dir: string;
  port: number;
  dbPath: string | undefined;
  launcher: Launcher;
}): Promise<RunningDynamoDBLocal> {
  const { java, dir, port, dbPath, launcher } = args;
  const main =
    launcher.kind === "loopback"
      ? ["-cp", [launcher.classDir, join(dir, JAR), join(dir, NATIVE_LIBS, "*")].join(delimiter), LAUNCHER_CLASS]
      : ["-jar", join(dir, JAR)];
  const javaArgs = [
    `-Djava.library.path=${join(dir, NATIVE_LIBS)}`,
    ...main,
    "-port",
    String(port),
    ...(dbPath === undefined ? ["-inMemory"] : ["-dbPath", dbPath]),
    "-sharedDb",
    // 1.24+ sends usage telemetry to AWS unless told not to.
    "-disableTelemetry",
  ];
  const child = spawn(java, javaArgs, {
    // It writes dynamodb-local-metadata.json into its working directory: keep that in the cache.
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, DDB_LOCAL_TELEMETRY: "0" },
  });
  trackChild(child);

  // Drain both pipes (a full pipe would block the JVM) and keep the tail
  // for error messages.
  let output = "";
  // When the port is taken, Jetty logs a BindException but the JVM does not
  // exit (a non-daemon thread lives on), so we watch for the message.
  let onBindFailure: () => void = () => {};
  const bindFailed = new Promise<void>((resolveBind) => (onBindFailure = resolveBind));
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
    if (/BindException|Failed to bind|Could not start server on port/.test(output)) onBindFailure();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit({ code, signal }));
  });
  const spawnFailed = new Promise<Error>((resolveError) => child.once("error", resolveError));

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // No pid: it never started (spawn error), so there is no exit to wait for.
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const escalate = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(escalate);
      }
      untrackChild(child);
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  // Another server squatting on the port would answer too: on Linux, only
  // count answers once our JVM holds the listening socket.
  const ready = waitUntilAnswering(endpoint, async () => (await listensOn(child.pid, port)) !== false);
  const outcome = await Promise.race([
    ready.promise,
    bindFailed.then(() => ({ kind: "port-in-use" as const })),
    exited.then((exit) => ({ kind: "exited" as const, ...exit })),
    spawnFailed.then((error) => ({ kind: "spawn-failed" as const, error })),
  ]);
  ready.cancel();

  if (outcome.kind === "ready" && child.exitCode === null && child.signalCode === null) {
    if (launcher.kind === "loopback") return { endpoint, port, loopbackOnly: true, stop };
    const bindNote = `DynamoDB Local listens on every interface (port ${port}, no authentication): ${launcher.reason}.`;
    return { endpoint, port, loopbackOnly: false, bindNote, stop };
  }

  await stop();
  if (outcome.kind === "port-in-use") throw new DynamoDBLocalPortInUseError(port);
  if (outcome.kind === "spawn-failed") {
    if (isCode(outcome.error, "ENOENT", "EACCES")) throw new JavaNotFoundError(java, { cause: outcome.error });
    throw new DynamoDBLocalStartError(`Could not run ${java}: ${outcome.error.message}`, output, { cause: outcome.error });
  }
  if (outcome.kind === "exited" || outcome.kind === "ready") {
    throw new DynamoDBLocalStartError(
      `DynamoDB Local exited before answering (code ${child.exitCode}, signal ${child.signalCode}): ${gist(output)}`,
      output,
    );
  }
  throw new DynamoDBLocalStartError(
    `DynamoDB Local did not answer on ${endpoint} within ${READY_TIMEOUT_MS / 1000} s: ${gist(output)}`,
    output,
    { cause: outcome.error },
  );
}

type Readiness = { kind: "ready" } | { kind: "timeout"; error: unknown };

/** Polls ListTables until it succeeds or READY_TIMEOUT_MS passes. */
function waitUntilAnswering(
  endpoint: string,
  answerIsOurs: () => Promise<boolean>,
): { promise: Promise<Readiness>; cancel(): void } {
  let cancelled = false;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const promise = (async (): Promise<Readiness> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    try {
      while (!cancelled && Date.now() < deadline) {
        try {
          await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
          if (await answerIsOurs()) return { kind: "ready" };
          lastError = new Error(`something else answers on ${endpoint}`);
          await sleep(READY_POLL_MS);
        } catch (error) {
          lastError = error;
          await sleep(READY_POLL_MS);
        }
      }
      return { kind: "timeout", error: lastError };
    } finally {
      client.destroy();
    }
  })();
  return {
    promise,
    cancel: () => {
      cancelled = true;
    },
  };
}

// ---------------------------------------------------------------- cleanup on exit

/**
 * JVMs we started and have not stopped. When this process ends without
 * calling stop() (an exception, Ctrl-C, a SIGTERM from a test runner) we
 * SIGKILL them, so no `java` outlives us. SIGKILL because an `exit` handler
 * cannot wait for a graceful stop; SQLite (behind `-dbPath`) survives it.
 */
const liveChildren = new Set<ChildProcess>();
const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function killLiveChildren(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  killLiveChildren();
  // Our listener replaced the default action (exit). If nobody else
  // listens, restore it and die by the same signal, as the default would.
  if (process.listenerCount(signal) === 1) {
    removeExitHooks();
    process.kill(process.pid, signal);
  }
}

function addExitHooks(): void {
  process.on("exit", killLiveChildren);
  for (const signal of signals) process.on(signal, onSignal);
}

function removeExitHooks(): void {
  process.off("exit", killLiveChildren);
  for (const signal of signals) process.off(signal, onSignal);
}

function trackChild(child: ChildProcess): void {
  if (liveChildren.size === 0) addExitHooks();
  liveChildren.add(child);
  child.once("exit", () => untrackChild(child));
}

function untrackChild(child: ChildProcess): void {
  if (liveChildren.delete(child) && liveChildren.size === 0) removeExitHooks();
}

// ---------------------------------------------------------------- small helpers

/**
 * Linux: does process `pid` hold the socket listening on TCP `port`?
 * Read from /proc; `undefined` where /proc cannot tell (other systems).
 */
async function listensOn(pid: number | undefined, port: number): Promise<boolean | undefined> {
  if (process.platform !== "linux" || pid === undefined) return undefined;
  try {
    const listening = new Set<string>();
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      const text = await readFile(table, "utf8").catch(() => "");
      for (const line of text.split("\n").slice(1)) {
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        const [, local, , state, , , , , , inode] = line.trim().split(/\s+/);
        const localPort = Number.parseInt(local?.split(":")[1] ?? "", 16);
        if (state === "0A" && localPort === port && inode) listening.add(inode);
      }
    }
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode && listening.has(inode)) return true;
    }
    return false;
  } catch {
    return undefined;
  }
}

/**
 * Asks the OS for a port free on every interface: without the loopback
 * launcher DynamoDB Local binds the wildcard address (a port free on
 * 127.0.0.1 alone may not be), and with it a port free everywhere is free
 * on loopback too.
 */
export function freePort(): Promise<number> {
  return listenOnWildcard(0);
}

async function isPortFree(port: number): Promise<boolean> {
  try {
    await listenOnWildcard(port);
    return true;
  } catch (error) {
    if (isCode(error, "EADDRINUSE", "EACCES")) return false;
    throw error;
  }
}

async function listenOnWildcard(port: number): Promise<number> {
  try {
    return await listenOnce(port, "::");
  } catch (error) {
    if (!isCode(error, "EAFNOSUPPORT", "EADDRNOTAVAIL")) throw error;
    return listenOnce(port, "0.0.0.0"); // no IPv6 on this machine
  }
}

/** Listens on host:port, then closes; resolves with the port bound. */
function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port, host, ipv6Only: false }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => (bound ? resolvePort(bound) : reject(new Error("no port assigned"))));
    });
  });
}

class ExecError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = "ExecError";
  }
}

function execFileText(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs: number },
): Promise<{ stdout: string; stderr: string }> {
  const execOptions = { cwd: options.cwd, timeout: options.timeoutMs, encoding: "utf8" as const, maxBuffer: 16 * 1024 * 1024 };
  return new Promise((resolveRun, reject) => {
    execFile(command, args, execOptions, (error, stdout, stderr) => {
      if (error) reject(new ExecError(`${command} ${args.join(" ")} failed: ${error.message}`, stderr, error));
      else resolveRun({ stdout, stderr });
    });
  });
}

function hashFile(path: string, algorithm: "sha256" | "sha512", encoding: "hex" | "base64"): Promise<string> {
  return new Promise((resolveHash, reject) => {
    const hash = createHash(algorithm);
    createReadStream(path)
      .on("error", reject)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolveHash(hash.digest(encoding)));
  });
}

function sha256File(path: string): Promise<string> {
  return hashFile(path, "sha256", "hex").catch(() => "(unreadable)");
}

function isCode(error: unknown, ...codes: string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && codes.includes(code);
}

function lastLine(text: string): string {
  return (
    text
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? ""
  );
}

/** The line of JVM output worth putting in an error message. */
function gist(output: string): string {
  const lines = output.split("\n").map((line) => line.trim()).filter(Boolean);
  // A Java stack trace ends in "... 8 more"; its first line says what went wrong.
  return lines.find((line) => /Exception|Error/.test(line)) ?? lines.at(-1) ?? "no output";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
