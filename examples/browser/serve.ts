/**
 * A small static file server for the browser example: serves the repository's `examples/browser/`
 * (the pages), `examples/checkpoints/` (the model the fine-tuning page loads) and `dist/` (the bundles
 * `deno task bundle` writes) and nothing else, so the pages' relative URLs (`../../dist/c3a.js`,
 * `../checkpoints/sotu-byte-llama/`) resolve as they do from any static host. Every response carries
 * the cross-origin isolation headers (COOP `same-origin`, COEP `require-corp`), so the page is
 * `crossOriginIsolated` and may use `SharedArrayBuffer`: the wasm kernels then run on every core in the
 * page's training worker. `--no-isolation` leaves them out, to show the fallback (one thread).
 *
 * Run: `deno task bundle && deno run --allow-net=127.0.0.1 --allow-read examples/browser/serve.ts
 * [--port 8000] [--no-isolation]`, then open http://127.0.0.1:8000/. The browser test uses
 * {@link createHandler} with an ephemeral port.
 *
 * @module
 */

/** Directories (relative to the repository root, with trailing slash) that are served. */
export const SERVED_DIRS: readonly string[] = ["examples/browser/", "examples/checkpoints/", "dist/"];

/**
 * Headers that make the page cross-origin isolated (`crossOriginIsolated === true` in the page, so
 * `SharedArrayBuffer` exists and wasm threads can run): COOP `same-origin` and COEP `require-corp`.
 */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

/** Sent on every response: only same-origin pages may embed these files (allowed under COEP). */
const RESOURCE_POLICY = { "cross-origin-resource-policy": "same-origin" };

const ROOT = new URL("../../", import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
};

function contentType(path: string): string {
  const dot = path.lastIndexOf(".");
  return CONTENT_TYPES[dot >= 0 ? path.slice(dot) : ""] ?? "application/octet-stream";
}

/** Options of {@link createHandler}. */
export interface HandlerOptions {
  /** Directory served as `/dist/` (default the repository's `dist/`), e.g. a test's temporary build. */
  distDir?: string | URL;
  /**
   * Send {@link ISOLATION_HEADERS} (default true). False serves a page that is not cross-origin
   * isolated: no `SharedArrayBuffer`, so the wasm kernels run on one thread (the fallback).
   */
  isolation?: boolean;
}

/**
 * A request handler for `Deno.serve` that answers GET/HEAD for files under {@link SERVED_DIRS} (`/`
 * redirects to the fine-tuning page), every response with {@link ISOLATION_HEADERS} unless
 * `opts.isolation` is false. Anything else is 404 (unknown or hidden path, `..`), 405 (other methods).
 * Responses are `no-store` so a rebuilt bundle is always picked up.
 *
 * @param opts where `/dist/` comes from, whether the page is cross-origin isolated
 * @returns the handler (it never throws for a missing file)
 */
export function createHandler(opts: HandlerOptions = {}): (req: Request) => Promise<Response> {
  const dist = opts.distDir === undefined
    ? new URL("dist/", ROOT)
    : new URL(String(opts.distDir).endsWith("/") ? String(opts.distDir) : `${opts.distDir}/`, "file:///");
  const headers = { ...RESOURCE_POLICY, ...(opts.isolation === false ? {} : ISOLATION_HEADERS) };
  return (req) => serveFile(req, dist, headers);
}

/** {@link createHandler} with the default options. */
export const handler: (req: Request) => Promise<Response> = createHandler();

async function serveFile(req: Request, dist: URL, policy: Record<string, string>): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed", {
      status: 405,
      headers: { allow: "GET, HEAD", ...policy },
    });
  }
  const url = new URL(req.url);
  let path: string;
  try {
    path = decodeURIComponent(url.pathname).replace(/^\/+/, "");
  } catch {
    return new Response("bad path", { status: 400, headers: policy });
  }
  if (path === "") return Response.redirect(new URL("/examples/browser/", url), 302);
  if (path.endsWith("/")) path += "index.html";
  const parts = path.split("/");
  if (
    parts.some((p) => p === ".." || p === "." || p.startsWith(".")) ||
    !SERVED_DIRS.some((d) => path.startsWith(d))
  ) {
    return new Response("not found", { status: 404, headers: policy });
  }
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = await Deno.readFile(path.startsWith("dist/") ? new URL(path.slice(5), dist) : new URL(path, ROOT));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      const hint = path.startsWith("dist/") ? " (run `deno task bundle` first)" : "";
      return new Response(`not found: /${path}${hint}`, { status: 404, headers: policy });
    }
    throw e;
  }
  const headers = { "content-type": contentType(path), "cache-control": "no-store", ...policy };
  return new Response(req.method === "HEAD" ? null : body, { headers });
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(
      "usage: serve.ts [--port N] [--no-isolation] [--help]\nServes the browser example at " +
        "http://127.0.0.1:N/ (default port 8000), cross-origin isolated (COOP/COEP headers: wasm threads)\n" +
        "unless --no-isolation (the one-thread fallback).",
    );
    Deno.exit(0);
  }
  const isolation = !Deno.args.includes("--no-isolation");
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : 8000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--port must be an integer in [0, 65535], got ${Deno.args[i + 1]}`);
  }
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ hostname, port }) =>
      console.log(
        `fine-tuning page: http://${hostname}:${port}/examples/browser/ (MLP probe: …/examples/browser/mlp.html)`,
      ),
  }, createHandler({ isolation }));
}
