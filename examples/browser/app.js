// @ts-check
/// <reference lib="dom" />
/**
 * The fine-tuning page's script (main thread). It loads the shipped checkpoint, checks the user's text,
 * starts a fresh Web Worker (`dist/finetune-worker.js`, built by `deno task bundle` from `worker.ts`)
 * for every run, and draws what the worker reports: backend, step, training and held-out bits per byte
 * (chart), tokens/s, ETA; then samples before/after and the adapter download. The main thread never
 * computes: the library runs only in the worker.
 *
 * URL parameters preset the form (the browser test uses them): `steps`, `lr`, `batch`, `seqlen`,
 * `seed`, `evalevery`, `evalwindows`, `samplelength`, `backend` (auto | webgpu | wasm).
 * `#status` reads "done" or "stopped" after a run and starts with "error" after a failure;
 * `#result-json` then holds the run's numbers as JSON.
 *
 * @module
 */

/** Fewest UTF-8 bytes of text (= `MIN_TEXT_BYTES` of examples/lib/data.ts; the worker checks again). */
const MIN_TEXT_BYTES = 2048;
/** Largest text file the page reads. */
const MAX_TEXT_BYTES = 64 * 1024 * 1024;
const CHECKPOINT = new URL("../checkpoints/sotu-byte-llama/", import.meta.url);
const WORKER = new URL("../../dist/finetune-worker.js", import.meta.url);
const SAMPLE = new URL("./assets/moby-dick-ch1-5.txt", import.meta.url);

/** Main-thread long tasks (PerformanceObserver "longtask"), for the browser test. */
const longTasks = /** @type {{start: number, duration: number}[]} */ ([]);
/** @type {any} */ (globalThis).__longTasks = longTasks;
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: "longtask", buffered: true });
} catch {
  // no Long Tasks API in this browser
}

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
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {number} n */
const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
/** @param {number} s seconds */
function fmtTime(s) {
  if (!Number.isFinite(s)) return "–";
  s = Math.round(s);
  return s >= 3600
    ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
    : s >= 60
    ? `${Math.floor(s / 60)} min ${s % 60} s`
    : `${s} s`;
}

/** @type {{config: Record<string, unknown>, weights: ArrayBuffer, tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>} | null} */
let checkpoint = null;
/** The checked text, or null. */
let text = /** @type {string | null} */ (null);
/** @type {Worker | null} */
let worker = null;
/** Training curve points of the current run. */
let trainPts = /** @type {{step: number, value: number}[]} */ ([]);
let evalPts = /** @type {{step: number, value: number}[]} */ ([]);
let plannedSteps = 1;
let runStart = 0;
/** @type {Record<string, unknown>} */
let runMeta = {};
/** @type {[unknown, Transferable[]] | null} the start message, until the worker is ready */
let pendingStart = null;
/** Blob URLs of the last adapter files (revoked when replaced). */
let blobUrls = /** @type {string[]} */ ([]);

/** @param {string} s */
function setStatus(s) {
  $("status").textContent = s;
}

/**
 * Shows an error in plain words; the page stays usable (Start is enabled again).
 *
 * @param {string} message
 */
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  setStatus(`error: ${message}`);
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

/**
 * Checks the bytes of a text and keeps it: valid UTF-8, not binary, not empty.
 *
 * @param {Uint8Array} bytes
 * @param {string} source where the text came from (for messages)
 * @returns {boolean} true when the text was accepted
 */
function acceptText(bytes, source) {
  let s;
  try {
    s = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return rejectText(
      `${source} is not UTF-8 text (it has byte sequences UTF-8 does not allow: a binary file, or text in ` +
        "another encoding — save it as UTF-8 and try again).",
    );
  }
  let controls = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 9 || (c > 13 && c < 32)) controls++;
  }
  if (s.includes("\u0000") || controls > s.length / 100) {
    return rejectText(`${source} looks like a binary file (it holds control bytes), not text.`);
  }
  text = s;
  const n = bytes.length;
  $("text-info").className = n < MIN_TEXT_BYTES ? "note bad" : "note";
  $("text-info").textContent = n < MIN_TEXT_BYTES
    ? `${source}: ${fmtInt(n)} bytes — too short: at least ${fmtInt(MIN_TEXT_BYTES)} bytes are needed ` +
      `(add ${fmtInt(MIN_TEXT_BYTES - n)} more; more text trains better).`
    : `${source}: ${fmtInt(n)} bytes of UTF-8 text (a tenth is held out to measure the model).`;
  updateStart();
  return true;
}

/** @param {string} message */
function rejectText(message) {
  text = null;
  $("text-info").className = "note bad";
  $("text-info").textContent = message;
  showError(message);
  updateStart();
  return false;
}

function updateStart() {
  /** @type {HTMLButtonElement} */ ($("start")).disabled = worker !== null || checkpoint === null ||
    text === null;
}

async function loadCheckpoint() {
  try {
    const names = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"];
    const res = await Promise.all(names.map((n) => fetch(new URL(n, CHECKPOINT))));
    for (const r of res) {
      if (!r.ok) throw new Error(`GET ${new URL(r.url).pathname}: HTTP ${r.status}`);
    }
    checkpoint = {
      config: await res[0].json(),
      weights: await res[1].arrayBuffer(),
      tokenizerJson: await res[2].json(),
      tokenizerConfig: await res[3].json(),
    };
    setStatus(`model loaded (${(checkpoint.weights.byteLength / 1e6).toFixed(1)} MB); choose a text`);
  } catch (e) {
    showError(
      `The model could not be loaded (${e instanceof Error ? e.message : e}). Serve the repository with ` +
        "`deno task serve:browser` and open the address it prints.",
    );
  }
  updateStart();
}

/** Asks a short-lived worker what Auto would choose here (the library's `setBackend("auto")`). */
function showBackendChoice() {
  const w = new Worker(WORKER, { type: "module" });
  w.onmessage = (ev) => {
    const m = ev.data;
    if (m.type === "ready") return w.postMessage({ type: "probe" });
    w.terminate();
    /** @type {any} */ (globalThis).__autoBackend = m;
    $("backend-info").textContent = m.type === "probe"
      ? `Auto uses ${m.name === "wasm" ? `WebAssembly (${m.threads})` : `WebGPU (${m.device})`}: ${m.reason}.`
      : `The backend check failed: ${m.message}`;
  };
  w.onerror = (ev) => {
    ev.preventDefault();
    w.terminate();
    $("backend-info").textContent = `The worker could not start (${
      ev.message || "no details"
    }); run \`deno task bundle\`.`;
  };
}

/** @returns {"auto" | "webgpu" | "wasm"} */
function backendChoice() {
  const el = /** @type {HTMLInputElement | null} */ (document.querySelector('input[name="backend"]:checked'));
  return /** @type {"auto" | "webgpu" | "wasm"} */ (el?.value ?? "auto");
}

function options() {
  /** @param {string} id */
  const num = (id) => Number(input(id).value);
  return {
    steps: num("steps"),
    lr: num("lr"),
    batchSize: num("batch"),
    seqLen: num("seqlen"),
    seed: num("seed"),
    evalEvery: num("evalevery"),
    evalWindows: num("evalwindows"),
    sampleLength: num("samplelength"),
  };
}

// --- chart ----------------------------------------------------------------------------------------

/**
 * "Nice" tick values covering [lo, hi].
 *
 * @param {number} lo
 * @param {number} hi
 * @param {number} count about how many
 */
function ticks(lo, hi, count) {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

function drawChart() {
  const svg = $("chart");
  const W = 720, H = 300, L = 56, R = 130, T = 14, B = 40;
  const all = [...trainPts, ...evalPts].map((p) => p.value);
  const ns = "http://www.w3.org/2000/svg";
  /**
   * @param {string} tag
   * @param {Record<string, string | number>} attrs
   * @param {string} [content]
   */
  const el = (tag, attrs, content) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (content !== undefined) e.textContent = content;
    return e;
  };
  const nodes = [];
  let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 8;
  const pad = (hi - lo) * 0.08 || 0.1;
  lo = Math.max(0, lo - pad);
  hi += pad;
  const x = (/** @type {number} */ s) => L + (s / Math.max(1, plannedSteps)) * (W - L - R);
  const y = (/** @type {number} */ v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  for (const v of ticks(lo, hi, 5)) {
    nodes.push(el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eee" }));
    nodes.push(el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, v.toFixed(2)));
  }
  for (const s of ticks(0, plannedSteps, 8).filter(Number.isInteger)) {
    nodes.push(el("line", { x1: x(s), x2: x(s), y1: H - B, y2: H - B + 4, stroke: "#333" }));
    nodes.push(el("text", { x: x(s), y: H - B + 16, "text-anchor": "middle" }, String(s)));
  }
  nodes.push(el("path", { d: `M${L},${T}V${H - B}H${W - R}`, fill: "none", stroke: "#333" }));
  nodes.push(el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, "optimizer step"));
  nodes.push(
    el("text", {
      x: 14,
      y: (T + H - B) / 2,
      transform: `rotate(-90 14 ${(T + H - B) / 2})`,
      "text-anchor": "middle",
    }, "bits per byte"),
  );
  /**
   * @param {{step: number, value: number}[]} pts
   * @param {string} color
   * @param {number} width
   */
  const line = (pts, color, width) =>
    el("polyline", {
      points: pts.map((p) => `${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "),
      fill: "none",
      stroke: color,
      "stroke-width": width,
    });
  if (trainPts.length) nodes.push(line(trainPts, "#90a4c8", 1.2));
  if (evalPts.length) {
    nodes.push(line(evalPts, "#c62828", 2));
    for (const p of evalPts) {
      nodes.push(el("circle", { cx: x(p.step), cy: y(p.value), r: 3, fill: "#c62828" }));
    }
  }
  const lx = W - R + 12;
  nodes.push(
    el("line", { x1: lx, x2: lx + 18, y1: T + 10, y2: T + 10, stroke: "#90a4c8", "stroke-width": 2 }),
  );
  nodes.push(el("text", { x: lx + 24, y: T + 14 }, "train (batch)"));
  nodes.push(
    el("line", { x1: lx, x2: lx + 18, y1: T + 30, y2: T + 30, stroke: "#c62828", "stroke-width": 2 }),
  );
  nodes.push(el("text", { x: lx + 24, y: T + 34 }, "held-out"));
  svg.replaceChildren(...nodes);
}

// --- a run ----------------------------------------------------------------------------------------

function start() {
  if (!checkpoint || text === null || worker) return;
  clearError();
  const results = $("results");
  if (!results.hidden) {
    results.classList.add("stale");
    $("stale-note").hidden = false;
  }
  $("result-json").textContent = "";
  trainPts = [];
  evalPts = [];
  const opts = options();
  plannedSteps = opts.steps;
  runMeta = { options: opts, backendChoice: backendChoice() };
  for (
    const [id, s] of [
      ["s-step", "step –"],
      ["s-train", "train – bits/byte"],
      ["s-held", "held-out – bits/byte"],
      ["s-speed", "– tokens/s"],
      ["s-eta", "ETA –"],
    ]
  ) $(id).textContent = s;
  $("run-info").textContent = "";
  $("progress").hidden = false;
  drawChart();
  setStatus("starting the worker…");
  runStart = performance.now();
  const w = new Worker(WORKER, { type: "module" });
  worker = w;
  w.onmessage = (ev) => onMessage(w, ev.data);
  w.onerror = (ev) => {
    ev.preventDefault();
    finish(w);
    showError(
      `The worker failed to start or crashed (${
        ev.message || "no details"
      }). If dist/finetune-worker.js is ` +
        "missing, run `deno task bundle`.",
    );
  };
  // Sent when the worker says "ready": a module worker with top-level await (the library bundle
  // instantiates its wasm that way) drops messages that arrive before its handler is installed.
  const weights = checkpoint.weights.slice(0);
  pendingStart = [{
    type: "start",
    checkpoint: {
      config: checkpoint.config,
      weights: new Uint8Array(weights),
      name: "sotu-byte-llama",
      tokenizerJson: checkpoint.tokenizerJson,
      tokenizerConfig: checkpoint.tokenizerConfig,
    },
    text,
    options: opts,
    backend: backendChoice(),
  }, [weights]];
  /** @type {HTMLButtonElement} */ ($("stop")).disabled = false;
  updateStart();
}

/** @param {Worker} w */
function finish(w) {
  w.terminate();
  if (worker === w) worker = null;
  /** @type {HTMLButtonElement} */ ($("stop")).disabled = true;
  updateStart();
}

/**
 * @param {Worker} w
 * @param {any} m
 */
function onMessage(w, m) {
  if (worker !== w) return;
  switch (m.type) {
    case "ready":
      if (pendingStart) w.postMessage(...pendingStart);
      pendingStart = null;
      setStatus("choosing the backend…");
      break;
    case "backend":
      runMeta.backend = m.name;
      runMeta.backendDescription = m.description;
      runMeta.backendWhy = m.why;
      $("run-info").textContent = `backend: ${m.description} — ${m.why}`;
      break;
    case "phase":
      setStatus(`${m.text}…`);
      break;
    case "start": {
      const i = m.info;
      runMeta.info = i;
      $("run-info").textContent =
        `backend: ${runMeta.backendDescription} — ${runMeta.backendWhy}. C3A block size ` +
        `${i.blockSize} on ${i.layers.length} layers: ${fmtInt(i.trainableParams)} trainable of ${
          fmtInt(i.totalParams)
        } ` +
        `parameters (${(100 * i.trainableParams / i.totalParams).toFixed(2)} %). Text: ${
          fmtInt(i.data.trainBytes)
        } ` +
        `training bytes, ${
          fmtInt(i.data.heldOutBytes)
        } held out (${i.data.windows} windows of ${i.options.seqLen} bytes).`;
      break;
    }
    case "step": {
      const r = m.report;
      trainPts.push({ step: r.step, value: r.trainBpb });
      $("s-step").textContent = `step ${r.step} / ${r.steps}`;
      $("s-train").textContent = `train ${r.trainBpb.toFixed(3)} bits/byte`;
      $("s-speed").textContent = `${fmtInt(r.tokensPerSecond)} tokens/s`;
      $("s-eta").textContent = `ETA ${fmtTime(r.etaSeconds)}`;
      drawChart();
      break;
    }
    case "eval":
      evalPts.push({ step: m.report.step, value: m.report.bpb });
      $("s-held").textContent = `held-out ${m.report.bpb.toFixed(3)} bits/byte (step ${m.report.step})`;
      drawChart();
      break;
    case "done":
      runMeta.threads = m.threads;
      showResult(m.result);
      finish(w);
      break;
    case "error":
      finish(w);
      showError(m.message);
      runMeta.error = { kind: m.kind, message: m.message };
      $("result-json").textContent = JSON.stringify({ ...runMeta, ms: performance.now() - runStart });
      break;
    default:
      finish(w);
      showError(`unexpected message from the worker: ${JSON.stringify(m.type)}`);
  }
}

/** @param {any} r */
function showResult(r) {
  const ms = performance.now() - runStart;
  $("r-before").textContent = r.bpbBefore.toFixed(4);
  $("r-after").textContent = r.bpbAfter.toFixed(4);
  $("r-change").textContent = `${(r.bpbAfter - r.bpbBefore >= 0 ? "+" : "")}${
    (r.bpbAfter - r.bpbBefore).toFixed(4)
  }`;
  $("r-info").textContent =
    `${r.stopped ? `Stopped after ${r.stepsDone} of ${r.options.steps} steps` : `${r.stepsDone} steps`}` +
    ` in ${fmtTime(r.loopSeconds)} (${
      fmtInt(r.tokensPerSecond)
    } training tokens/s) on ${runMeta.backendDescription}.` +
    " Bits per byte: mean cross-entropy of the next byte in bits (lower is better; 8 = knowing nothing).";
  for (const [id, s] of [["r-sample-before", r.samples.before], ["r-sample-after", r.samples.after]]) {
    const span = document.createElement("span");
    span.className = "prompt";
    span.textContent = r.samples.prompt;
    $(id).replaceChildren(span, document.createTextNode(s || "(sample length 0)"));
  }
  for (const u of blobUrls) URL.revokeObjectURL(u);
  blobUrls = [
    URL.createObjectURL(new Blob([r.adapter.config], { type: "application/json" })),
    URL.createObjectURL(new Blob([r.adapter.weights], { type: "application/octet-stream" })),
  ];
  /** @type {HTMLAnchorElement} */ ($("dl-config")).href = blobUrls[0];
  /** @type {HTMLAnchorElement} */ ($("dl-weights")).href = blobUrls[1];
  $("results").classList.remove("stale");
  $("stale-note").hidden = true;
  $("results").hidden = false;
  const { adapter, ...numbers } = r;
  $("result-json").textContent = JSON.stringify({
    ...runMeta,
    ...numbers,
    adapterBytes: adapter.weights.byteLength,
    ms,
  });
  setStatus(r.stopped ? "stopped" : "done");
}

// --- wiring ---------------------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
for (const k of ["steps", "lr", "batch", "seqlen", "seed", "evalevery", "evalwindows", "samplelength"]) {
  const v = params.get(k);
  if (v !== null) input(k).value = v;
}
const b = params.get("backend");
if (b !== null) {
  const radio =
    /** @type {HTMLInputElement | null} */ (document.querySelector(`input[name="backend"][value="${b}"]`));
  if (radio) radio.checked = true;
}

$("text").addEventListener("input", () => {
  const t = /** @type {HTMLTextAreaElement} */ ($("text")).value;
  clearError();
  if (t === "") {
    text = null;
    $("text-info").textContent = "no text yet";
    updateStart();
  } else acceptText(new TextEncoder().encode(t), "The pasted text");
});
input("file").addEventListener("change", async () => {
  const f = input("file").files?.[0];
  if (!f) return;
  clearError();
  /** @type {HTMLTextAreaElement} */ ($("text")).value = "";
  if (f.size > MAX_TEXT_BYTES) {
    rejectText(`"${f.name}" has ${fmtInt(f.size)} bytes; this page reads at most ${fmtInt(MAX_TEXT_BYTES)}.`);
    return;
  }
  acceptText(new Uint8Array(await f.arrayBuffer()), `"${f.name}"`);
});
$("sample").addEventListener("click", async () => {
  clearError();
  try {
    const res = await fetch(SAMPLE);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    /** @type {HTMLTextAreaElement} */ ($("text")).value = new TextDecoder().decode(bytes);
    input("file").value = "";
    acceptText(bytes, "Sample (Moby-Dick, chapters 1–5)");
  } catch (e) {
    showError(`The sample text could not be loaded: ${e instanceof Error ? e.message : e}`);
  }
});
$("start").addEventListener("click", start);
$("stop").addEventListener("click", () => {
  if (!worker) return;
  if (pendingStart) {
    // the worker has not started the run yet: nothing was trained, nothing to keep
    pendingStart = null;
    finish(worker);
    setStatus("stopped before training began");
    return;
  }
  worker.postMessage({ type: "stop" });
  /** @type {HTMLButtonElement} */ ($("stop")).disabled = true;
  setStatus("stopping after this step…");
});
$("download").addEventListener("click", () => {
  for (const id of ["dl-config", "dl-weights"]) /** @type {HTMLAnchorElement} */ ($(id)).click();
});

showBackendChoice();
await loadCheckpoint();
