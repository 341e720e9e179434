/**
 * The script of the MLP probe page (`mlp.html`): loads the library bundle, reads the chosen (or shipped)
 * adapter, runs {@link runDemo} and shows the numbers. URL parameters `seed`, `steps`, `lr` preset the
 * form (the browser test uses them). When done, `#status` reads "done" and `#result-json` holds the
 * result as JSON; on failure `#status` starts with "error".
 *
 * The bundle is a build output (`deno task bundle` writes `dist/c3a.js`), so it is imported by URL at
 * run time rather than statically: `deno check` of the repository does not need it to exist.
 *
 * @module
 */

import { runDemo } from "./demo.js";

/** @type {typeof import("../../mod.ts")} */
const c3a = await import(new URL("../../dist/c3a.js", import.meta.url).href);

/** @typedef {import("./demo.js").DemoResult} DemoResult */

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el;
}

/**
 * @param {string} id
 * @returns {HTMLInputElement}
 */
function input(id) {
  return /** @type {HTMLInputElement} */ ($(id));
}

/**
 * @param {string} path
 * @returns {Promise<Uint8Array>}
 */
async function fetchBytes(path) {
  const res = await fetch(new URL(path, import.meta.url));
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * @param {string} path
 * @returns {Promise<string>}
 */
async function fetchText(path) {
  return new TextDecoder().decode(await fetchBytes(path));
}

/**
 * The adapter to use: the files chosen in the file input, else the shipped example.
 *
 * @returns {Promise<{weights: Uint8Array, config: string | undefined, source: string}>}
 */
async function readAdapter() {
  const files = [...(input("files").files ?? [])];
  if (files.length === 0) {
    return {
      weights: await fetchBytes("./assets/adapter/adapter_model.safetensors"),
      config: await fetchText("./assets/adapter/adapter_config.json"),
      source: "shipped example (assets/adapter/)",
    };
  }
  const weights = files.find((f) => f.name.endsWith(".safetensors"));
  if (!weights) throw new Error("choose an adapter_model.safetensors file (a .json alone is not enough)");
  const config = files.find((f) => f.name.endsWith(".json"));
  return {
    weights: new Uint8Array(await weights.arrayBuffer()),
    config: config ? await config.text() : undefined,
    source: config
      ? `${weights.name} + ${config.name}`
      : `${weights.name} (config inferred from the kernels)`,
  };
}

/**
 * @param {HTMLElement} table
 * @param {string[]} header
 * @param {(string | number)[][]} rows
 */
function fillTable(table, header, rows) {
  table.replaceChildren();
  const tr = document.createElement("tr");
  for (const h of header) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.append(th);
  }
  table.append(tr);
  for (const r of rows) {
    const row = document.createElement("tr");
    for (const v of r) {
      const td = document.createElement("td");
      td.textContent = typeof v === "number" ? v.toFixed(6) : v;
      row.append(td);
    }
    table.append(row);
  }
}

/**
 * @param {number[]} values
 */
function drawCurve(values) {
  const svg = $("curve");
  const w = 480, h = 160, pad = 10;
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || 1;
  const pts = values.map((v, i) => {
    const x = pad + (values.length > 1 ? (i / (values.length - 1)) * (w - 2 * pad) : 0);
    const y = pad + (1 - (v - lo) / span) * (h - 2 * pad);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1565c0");
  line.setAttribute("stroke-width", "2");
  svg.replaceChildren(line);
}

/**
 * Picks the backend with the library's `setBackend`: WebGPU when the box is ticked (the adapter the
 * browser offers, even a software one), else wasm. Returns a one-line description of the backend in use.
 *
 * @returns {Promise<string>}
 */
async function chooseBackend() {
  await c3a.setBackend(input("webgpu").checked ? "webgpu" : "wasm");
  return c3a.describeBackend();
}

async function run() {
  const status = $("status");
  status.className = "";
  status.textContent = "running…";
  $("result-json").textContent = "";
  try {
    const backendDescription = await chooseBackend();
    const adapter = await readAdapter();
    const probe = JSON.parse(await fetchText("./assets/probe.json"));
    const t0 = performance.now();
    /** @type {DemoResult} */
    const r = await runDemo(c3a, {
      baseWeights: await fetchBytes("./assets/model.safetensors"),
      adapterWeights: adapter.weights,
      adapterConfig: adapter.config,
      probe: probe.x,
      seed: Number(input("seed").value),
      steps: Number(input("steps").value),
      lr: Number(input("lr").value),
    });
    const ms = performance.now() - t0;

    // On a page's main thread the wasm kernels run on one thread (it may not block); utils.parallelInfo()
    // says so. The fine-tuning page runs the library in a worker, where they use every core.
    const threads = c3a.utils.parallelInfo();
    $("backend").textContent = `${backendDescription} (${
      threads.numThreads > 1 ? `${threads.numThreads} threads` : `one thread: ${threads.reason || "set so"}`
    })`;
    $("adapter-source").textContent = adapter.source;
    $("block-sizes").textContent = Object.entries(r.blockSizes).map(([k, b]) => `${k}: ${b}`).join(", ");
    $("trainable").textContent = String(r.trainableParams);
    const ref = probe.output.data;
    const cols = probe.output.shape[1];
    let maxDiff = 0;
    /** @type {(string | number)[][]} */
    const rows = [];
    for (let i = 0; i < r.probeOutput.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(r.probeOutput[i] - ref[i]));
      rows.push([`[${Math.floor(i / cols)}, ${i % cols}]`, r.probeOutput[i], ref[i]]);
    }
    fillTable($("probe"), ["index", "this page", "PEFT"], rows);
    $("probe-diff").textContent = maxDiff.toExponential(2);
    drawCurve([...r.losses, r.finalLoss]);
    fillTable($("losses"), ["step", "loss"], r.losses.map((l, i) => [String(i), l]));
    $("final-loss").textContent = r.finalLoss.toFixed(6);
    $("time").textContent = `${ms.toFixed(0)} ms`;
    $("output").hidden = false;
    $("result-json").textContent = JSON.stringify({
      ...r,
      backendDescription,
      adapterSource: adapter.source,
      threads,
      ms,
    });
    status.textContent = "done";
  } catch (e) {
    status.className = "error";
    status.textContent = `error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    console.error(e);
  }
}

const params = new URLSearchParams(location.search);
for (const k of ["seed", "steps", "lr"]) {
  const v = params.get(k);
  if (v !== null) input(k).value = v;
}
if ("gpu" in navigator) {
  $("webgpu-label").hidden = false;
  // Ticked by default only where Auto would use WebGPU: a hardware adapter that passes the library's
  // known-answer check (a software one, e.g. SwiftShader, is slower than wasm).
  const w = params.get("webgpu");
  input("webgpu").checked = w === null ? (await c3a.setBackend("auto")).name === "webgpu" : w !== "0";
}
$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run();
});
input("files").addEventListener("change", () => run());
run();
