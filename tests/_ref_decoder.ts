// A float64 decoder forward written independently of src/ (naive loops), following Hugging Face's
// modeling_llama / modeling_qwen2 / modeling_mistral (eager attention): RMSNorm, RoPE (rotate_half
// layout), GQA, optional q/k/v and o biases (Qwen2: q/k/v only), sliding-window causal attention
// (Mistral: key j visible to query i when i - window < j <= i), padding masks, SwiGLU MLP, LM head
// or the sequence-classification pooling.

/** Weights by HF name, float64. */
export type W = Record<string, Float64Array>;

/** The config fields the reference reads (HF names). */
export interface RefConfig {
  hidden_size: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  intermediate_size: number;
  vocab_size: number;
  num_hidden_layers: number;
  rms_norm_eps: number;
  rope_theta: number;
  use_rotary_embeddings?: boolean;
  /** Inverse frequencies `[head_dim/2]` replacing `rope_theta^(−2i/D)` (scaled RoPE schemes). */
  ref_inv_freq?: ArrayLike<number>;
}

/** Architecture switches of the reference. */
export interface RefOptions {
  /** Padding mask [B, T]: keys at 0 are not attended to. */
  mask?: number[];
  /** Position of each token [B, T] (default t). */
  positions?: number[];
  /** Biases on q/k/v (read from `<proj>.bias`). */
  qkvBias?: boolean;
  /** Bias on o_proj. */
  oBias?: boolean;
  /** Sliding window per layer (null = full). */
  window?: (layer: number) => number | null;
}

/** Final normalised hidden states [B·T, C] (float64). */
export function refHidden(w: W, cfg: RefConfig, ids: number[], B: number, T: number, o: RefOptions = {}) {
  const C = cfg.hidden_size, Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, hd = cfg.head_dim;
  const I = cfg.intermediate_size;
  const lin = (x: Float64Array, name: string, inF: number, outF: number, bias = false) => {
    const rows = x.length / inF;
    const y = new Float64Array(rows * outF);
    const wt = w[name + ".weight"], bt = bias ? w[name + ".bias"] : null;
    for (let r = 0; r < rows; r++) {
      for (let oo = 0; oo < outF; oo++) {
        let s = bt ? bt[oo] : 0;
        for (let i = 0; i < inF; i++) s += x[r * inF + i] * wt[oo * inF + i];
        y[r * outF + oo] = s;
      }
    }
    return y;
  };
  const norm = (x: Float64Array, name: string) => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < x.length / C; r++) {
      let ms = 0;
      for (let j = 0; j < C; j++) ms += x[r * C + j] ** 2;
      const inv = 1 / Math.sqrt(ms / C + cfg.rms_norm_eps);
      for (let j = 0; j < C; j++) y[r * C + j] = x[r * C + j] * inv * w[name][j];
    }
    return y;
  };
  const pos = (bt: number) => (o.positions ? o.positions[bt] : bt % T);
  const rope = (x: Float64Array, H: number) => {
    if (cfg.use_rotary_embeddings === false) return x;
    const y = new Float64Array(x.length), half = hd / 2;
    for (let bt = 0; bt < B * T; bt++) {
      const t = pos(bt);
      for (let h = 0; h < H; h++) {
        const off = bt * H * hd + h * hd;
        for (let j = 0; j < hd; j++) {
          const ang = cfg.ref_inv_freq
            ? t * cfg.ref_inv_freq[j % half]
            : t / cfg.rope_theta ** (2 * (j % half) / hd);
          const rot = j < half ? -x[off + j + half] : x[off + j - half];
          y[off + j] = x[off + j] * Math.cos(ang) + rot * Math.sin(ang);
        }
      }
    }
    return y;
  };
  let h = new Float64Array(B * T * C);
  ids.forEach((id, i) => h.set(w["model.embed_tokens.weight"].subarray(id * C, id * C + C), i * C));
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const win = o.window?.(l) ?? null;
    const a = norm(h, p + "input_layernorm.weight");
    const q = rope(lin(a, p + "self_attn.q_proj", C, Hq * hd, o.qkvBias), Hq);
    const k = rope(lin(a, p + "self_attn.k_proj", C, Hkv * hd, o.qkvBias), Hkv);
    const v = lin(a, p + "self_attn.v_proj", C, Hkv * hd, o.qkvBias);
    const out = new Float64Array(B * T * Hq * hd);
    for (let b = 0; b < B; b++) {
      for (let hh = 0; hh < Hq; hh++) {
        const kh = Math.floor(hh / (Hq / Hkv));
        for (let i = 0; i < T; i++) {
          const s = new Float64Array(T).fill(-Infinity);
          for (let j = 0; j <= i; j++) {
            if (o.mask && !o.mask[b * T + j]) continue;
            if (win !== null && j <= i - win) continue;
            let d = 0;
            for (let c = 0; c < hd; c++) {
              d += q[(b * T + i) * Hq * hd + hh * hd + c] * k[(b * T + j) * Hkv * hd + kh * hd + c];
            }
            s[j] = d / Math.sqrt(hd);
          }
          const mx = Math.max(...s);
          let z = 0;
          for (let j = 0; j < T; j++) z += s[j] = Math.exp(s[j] - mx);
          for (let c = 0; c < hd; c++) {
            let acc = 0;
            for (let j = 0; j < T; j++) {
              if (s[j] > 0) acc += s[j] / z * v[(b * T + j) * Hkv * hd + kh * hd + c];
            }
            out[(b * T + i) * Hq * hd + hh * hd + c] = acc;
          }
        }
      }
    }
    const ao = lin(out, p + "self_attn.o_proj", Hq * hd, C, o.oBias);
    h = h.map((x, i) => x + ao[i]);
    const m = norm(h, p + "post_attention_layernorm.weight");
    const g = lin(m, p + "mlp.gate_proj", C, I), u = lin(m, p + "mlp.up_proj", C, I);
    const act = g.map((z, i) => z / (1 + Math.exp(-z)) * u[i]);
    const dn = lin(act, p + "mlp.down_proj", I, C);
    h = h.map((x, i) => x + dn[i]);
  }
  return norm(h, "model.norm.weight");
}

/** Logits [B·T, V] (float64): the final hidden states times `lm_head.weight`. */
export function refLogits(w: W, cfg: RefConfig, ids: number[], B: number, T: number, o: RefOptions = {}) {
  const h = refHidden(w, cfg, ids, B, T, o);
  const C = cfg.hidden_size, V = cfg.vocab_size, lm = w["lm_head.weight"] ?? w["model.embed_tokens.weight"];
  const y = new Float64Array(B * T * V);
  for (let r = 0; r < B * T; r++) {
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += h[r * C + c] * lm[v * C + c];
      y[r * V + v] = s;
    }
  }
  return y;
}

/** Weights of a module's state dict as float64. */
export function weights64(m: { stateDict(): Record<string, { dataSync(): Float32Array }> }): W {
  const out: W = {};
  for (const [k, v] of Object.entries(m.stateDict())) out[k] = Float64Array.from(v.dataSync());
  return out;
}

/** max |a - ref| <= rtol · max|ref|. */
export function maxRelErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let mref = 0, merr = 0;
  for (let i = 0; i < ref.length; i++) {
    mref = Math.max(mref, Math.abs(ref[i]));
    merr = Math.max(merr, Math.abs(a[i] - ref[i]));
  }
  return merr / mref;
}
