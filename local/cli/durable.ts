#!/usr/bin/env node
/**
 * The `durable` command (package.json `bin`). Nothing may load the AWS SDK before the line
 * below: the SDK warns on Node 20 that its releases after January 2027 need Node 22, a notice
 * about its own future that the local stack does not need (it runs on 20 and 22). Hence the
 * dynamic import after it: static imports would be evaluated first.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const { main } = await import("./main.js");
await main(process.argv);
