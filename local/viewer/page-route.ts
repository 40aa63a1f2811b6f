/**
 * Serves the execution viewer's page (`GET /viewer`, its stylesheet and script under `/viewer/`)
 * beside the API, on the API's own origin: the page's `fetch` calls need no CORS. The page holds
 * no data; it asks the API with the bearer token it is given in the URL's fragment.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { LocalRoute } from "../http-api.js";
import { iconSvg } from "./page/icon-svg.js";
import { indexHtml } from "./page/index-html.js";
import { viewerCss } from "./page/viewer-css.js";
import { viewerJs } from "./page/viewer-js.js";

export const VIEWER_PATH = "/viewer";

interface Asset {
  contentType: string;
  body: Buffer;
}

const index: Asset = { contentType: "text/html; charset=utf-8", body: Buffer.from(indexHtml, "utf8") };
const assets = new Map<string, Asset>([
  [VIEWER_PATH, index],
  [`${VIEWER_PATH}/`, index],
  [`${VIEWER_PATH}/index.html`, index],
  [`${VIEWER_PATH}/viewer.css`, { contentType: "text/css; charset=utf-8", body: Buffer.from(viewerCss, "utf8") }],
  [`${VIEWER_PATH}/viewer.js`, { contentType: "text/javascript; charset=utf-8", body: Buffer.from(viewerJs, "utf8") }],
  // Without an icon of its own the browser asks for /favicon.ico, which the API refuses (401).
  [`${VIEWER_PATH}/icon.svg`, { contentType: "image/svg+xml", body: Buffer.from(iconSvg, "utf8") }],
]);

/**
 * The page only loads its own files and talks only to its own origin; nothing may frame it. The
 * script sets bar positions through the CSSOM (`element.style`), which `style-src 'self'` allows.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  // The page changes with the package (and `durable dev` reloads nothing of it): never stale.
  "cache-control": "no-store",
};

/** `http://127.0.0.1:3000/viewer#token=...`: the page reads the token from the fragment, which no request carries. */
export function viewerUrl(baseUrl: string, token: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${VIEWER_PATH}#token=${encodeURIComponent(token)}`;
}

/** The route the local HTTP server (`serveHttpApi`'s `localRoutes`) answers `/viewer` with. */
export const viewerPageRoute: LocalRoute = { prefix: VIEWER_PATH, serve: serveViewerPage };

export function serveViewerPage(req: IncomingMessage, res: ServerResponse): void {
  const rawUrl = req.url ?? "/";
  const queryStart = rawUrl.indexOf("?");
  const path = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  const method = (req.method ?? "GET").toUpperCase();
  // A body is never wanted here; let it drain so the connection stays usable.
  req.resume();
  if (method !== "GET" && method !== "HEAD") {
    send(res, 405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }, Buffer.from(`${method} is not allowed here\n`), method);
    return;
  }
  const asset = assets.get(path);
  if (!asset) {
    send(res, 404, { "content-type": "text/plain; charset=utf-8" }, Buffer.from(`no such file: the viewer is at ${VIEWER_PATH}\n`), method);
    return;
  }
  send(res, 200, { "content-type": asset.contentType }, asset.body, method);
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer, method: string): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries({ ...SECURITY_HEADERS, ...headers })) res.setHeader(name, value);
  res.setHeader("content-length", body.length);
  res.end(method === "HEAD" ? undefined : body);
}
