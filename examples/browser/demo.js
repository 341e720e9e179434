// @ts-check
/**
 * The computation of the browser example, written once and run in two places: the page
 * (`mlp.html` + `main.js`, with the library from the browser bundle `dist/c3a.js`) and the browser
 * test (`tests/browser_test.ts`, with the library from `mod.ts` in Deno), which compares the two.
 * Plain JavaScript so a browser loads it as is; `deno check` checks it against `mod.ts`.
 *
 * What it does, deterministically for a given seed:
 * 1. builds PEFT's test MLP (10 → 20 → 2, `src/models/mlp.ts`) and loads its base weights;
 * 2. applies a C3A adapter from `adapter_model.safetensors` (its `adapter_config.json` when given,
 *    otherwise the block sizes and targets read off the kernel shapes in the file);
 * 3. evaluates the adapted model on a probe input (PEFT's reference output is shipped beside it);
 * 4. trains the adapter kernels for a few AdamW steps on a seeded synthetic task and records the
 *    loss of every step.
 *
 * @module
 */

/** @typedef {typeof import("../../mod.ts")} C3A */

/**
 * @typedef {object} DemoInput
 * @property {Uint8Array} baseWeights bytes of the base model's `model.safetensors`
 * @property {Uint8Array} adapterWeights bytes of `adapter_model.safetensors`
 * @property {string} [adapterConfig] text of `adapter_config.json` (default: inferred from the kernels)
 * @property {{shape: number[], data: number[]}} [probe] input `[rows, 10]` to evaluate before training
 * @property {number} [seed] seed of the synthetic data (default 0)
 * @property {number} [steps] training steps (default 20)
 * @property {number} [lr] AdamW learning rate (default 0.1)
 * @property {number} [rows] training examples (default 64)
 */

/**
 * @typedef {object} DemoResult
 * @property {string} backend name of the backend that ran the computation
 * @property {Record<string, number>} blockSizes block size of each adapted module
 * @property {number} trainableParams number of trainable (adapter) parameters
 * @property {number[]} probeOutput log-probabilities `[rows, 2]` of the probe input, row-major
 * @property {number[]} losses training loss (mean NLL) before each step
 * @property {number} finalLoss loss after the last step
 */

const KERNEL_SUFFIX = ".c3a_kernel";
const PEFT_PREFIX = "base_model.model.";

/**
 * An `adapter_config.json` equivalent for a PEFT C3A adapter file alone: every `….c3a_kernel`
 * `[out/b, in/b, b]` names a target module and its block size b.
 *
 * @param {Record<string, {shape: readonly number[]}>} tensors the decoded adapter file
 * @returns {Record<string, unknown>} PEFT config keys (snake_case)
 * @throws {RangeError} when the file holds no C3A kernel
 */
export function inferAdapterConfig(tensors) {
  /** @type {Record<string, number>} */
  const pattern = {};
  for (const [key, t] of Object.entries(tensors)) {
    if (!key.endsWith(KERNEL_SUFFIX) || t.shape.length !== 3) continue;
    const path = key.slice(key.startsWith(PEFT_PREFIX) ? PEFT_PREFIX.length : 0, -KERNEL_SUFFIX.length);
    pattern[path] = t.shape[2];
  }
  const targets = Object.keys(pattern);
  if (targets.length === 0) {
    throw new RangeError(
      `no C3A kernel in the adapter file (keys: ${Object.keys(tensors).join(", ") || "none"}); ` +
        "expected keys like base_model.model.<module>.c3a_kernel with shape [out/b, in/b, b]",
    );
  }
  // Full paths, regex-escaped (PEFT matches a block_size_pattern key K as `(.*\.)?(K)$`).
  const blockSizePattern = Object.fromEntries(
    targets.map((p) => [p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), pattern[p]]),
  );
  return {
    peft_type: "C3A",
    target_modules: targets,
    block_size: pattern[targets[0]],
    block_size_pattern: blockSizePattern,
  };
}

/**
 * Runs the example: see the module description. Asynchronous because values are read back with
 * `await tensor.data()`, which every backend supports (WebGPU on a browser's main thread has no
 * synchronous reads); on the wasm backend it resolves at once.
 *
 * @param {C3A} c3a the library (browser bundle or `mod.ts`)
 * @param {DemoInput} input files and settings
 * @returns {Promise<DemoResult>} what the page shows
 * @throws {RangeError} for a bad seed, step count, row count or learning rate, or an adapter file
 *   without C3A kernels; the library's errors for files that do not fit the model
 */
export async function runDemo(c3a, input) {
  const seed = input.seed ?? 0;
  const steps = input.steps ?? 20;
  const lr = input.lr ?? 0.1;
  const rows = input.rows ?? 64;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!Number.isInteger(steps) || steps < 1) {
    throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
  }
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be an integer >= 1, got ${rows}`);
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`lr must be a finite number >= 0, got ${lr}`);

  c3a.manualSeed(seed);
  const base = new c3a.MLP({ dropout: 0 });
  base.loadStateDict(c3a.decodeSafetensors(input.baseWeights).tensors);

  const adapter = c3a.decodeSafetensors(input.adapterWeights).tensors;
  const configDict = input.adapterConfig ? JSON.parse(input.adapterConfig) : inferAdapterConfig(adapter);
  // A saved adapter is marked for inference; train it (PEFT `is_trainable=True`).
  const config = c3a.C3AConfig.fromJSON(configDict).with({ inferenceMode: false });
  const model = c3a.getPeftModel(base, config);
  c3a.setPeftModelStateDict(model, adapter);

  /** @type {Record<string, number>} */
  const blockSizes = {};
  for (const [name, layer] of model.c3aLayers()) blockSizes[name] = layer.c3aBlockSize["default"];
  const params = model.parameters().filter((p) => p.requiresGrad);
  const trainableParams = params.reduce((n, p) => n + p.size, 0);

  /** @type {number[]} */
  let probeOutput = [];
  if (input.probe) {
    model.eval();
    const x = c3a.tensor(input.probe.data, input.probe.shape);
    probeOutput = Array.from(await c3a.noGrad(() => model.forward(x)).data());
  }

  // Synthetic task: label 1 when x0 + x1 - x2 > 0 (a linear rule the MLP can fit).
  model.train();
  const x = c3a.randn([rows, 10]);
  const xs = await x.data();
  const labels = Array.from(
    { length: rows },
    (_, i) => (xs[i * 10] + xs[i * 10 + 1] - xs[i * 10 + 2] > 0 ? 1 : 0),
  );
  const opt = new c3a.optim.AdamW(params, { lr, weightDecay: 0 });
  /** @type {number[]} */
  const losses = [];
  for (let step = 0; step < steps; step++) {
    const loss = c3a.nn.functional.nllLoss(model.forward(x), labels);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push((await loss.data())[0]);
  }
  const finalLoss = (await c3a.noGrad(() => c3a.nn.functional.nllLoss(model.forward(x), labels)).data())[0];
  return { backend: c3a.getBackend().name, blockSizes, trainableParams, probeOutput, losses, finalLoss };
}
