#!/usr/bin/env python3
"""C3A adapters round-tripped between this project (Deno) and Hugging Face PEFT itself.

Run by bench/device/run.sh (or alone: python3 bench/device/peft_roundtrip.py [--deno PATH] [--work DIR]).
Needs torch, transformers and peft (with C3AConfig); when one is not importable it prints why and exits 0
with every row "skipped" (status line "PEFT round trip: SKIPPED").

1. transformers: a small Llama (LlamaConfig, random init, torch.manual_seed(0), float32, untied
   lm_head), saved with save_pretrained (safetensors).
2. Deno (bench/device/peft_roundtrip.ts): its base logits; then it trains a C3A adapter a few AdamW steps
   (b = 16, down_proj 32, all seven projections) and saves it; PEFT loads it (PeftModel.from_pretrained):
   its logits must equal Deno's within 1e-4 relative (max |a - b| / max |b|), and so must
   merge_and_unload()'s against Deno's mergeAndUnload().
3. PEFT trains an adapter a few AdamW steps with several block sizes (block_size_pattern) and
   modules_to_save=["lm_head"], saves it; Deno loads it (C3AModel.fromPretrained) and must reproduce
   PEFT's logits and merged logits within 1e-4 relative.

Prints a pass/fail table; exit status 1 when a row fails.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOL = 1e-4
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ROWS = [
    "base model logits (transformers vs Deno)",
    "Deno-trained adapter: PEFT logits == Deno logits",
    "Deno-trained adapter: merge_and_unload == Deno mergeAndUnload",
    "PEFT-trained adapter (block_size_pattern, modules_to_save): Deno logits == PEFT logits",
    "PEFT-trained adapter: Deno mergeAndUnload == PEFT merge_and_unload",
]


def table(results):
    print("\n| check | result | max rel. error (tol 1e-4) |\n|---|---|---:|")
    for name in ROWS:
        status, err = results.get(name, ("not run", None))
        print(f"| {name} | {status} | {'—' if err is None else f'{err:.2e}'} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deno", default=os.environ.get("DENO", "deno"), help="the deno binary (default $DENO or deno)")
    ap.add_argument("--work", default=None, help="folder for the model, adapters and logits (default: a temp dir)")
    ap.add_argument("--steps", type=int, default=3, help="training steps on each side (default 3)")
    ap.add_argument("--backend", default="wasm", help="Deno backend: wasm, webgpu or auto (default wasm)")
    a = ap.parse_args()

    missing = []
    for mod in ("torch", "transformers", "peft"):
        try:
            __import__(mod)
        except Exception as e:  # noqa: BLE001 - any import failure means "not usable here"
            missing.append(f"{mod} ({type(e).__name__}: {e})")
    if not missing:
        try:
            from peft import C3AConfig  # noqa: F401
        except Exception as e:  # noqa: BLE001
            missing.append(f"peft.C3AConfig ({e}; C3A needs peft >= 0.16)")
    if missing:
        print("PEFT round trip: SKIPPED: not importable here: " + "; ".join(missing))
        table({name: ("skipped", None) for name in ROWS})
        return 0

    import torch
    import transformers
    import peft
    from peft import C3AConfig, PeftModel, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
    work = a.work or tempfile.mkdtemp(prefix="c3a_peft_")
    os.makedirs(work, exist_ok=True)
    p = lambda *x: os.path.join(work, *x)  # noqa: E731

    # 1. the base model
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rope_theta=10000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
    )
    base = LlamaForCausalLM(config).float().eval()
    if os.path.exists(p("base")):
        shutil.rmtree(p("base"))
    base.save_pretrained(p("base"))  # safetensors (the default in transformers 4.x and 5.x)
    g = torch.Generator().manual_seed(1)
    ids = {
        "train": torch.randint(0, config.vocab_size, (4, 32), generator=g).tolist(),
        "eval": torch.randint(0, config.vocab_size, (2, 24), generator=g).tolist(),
    }
    with open(p("ids.json"), "w") as f:
        json.dump(ids, f)
    train_ids = torch.tensor(ids["train"])
    eval_ids = torch.tensor(ids["eval"])

    def load_base():
        try:
            m = LlamaForCausalLM.from_pretrained(p("base"), dtype=torch.float32, attn_implementation="eager")
        except TypeError:
            m = LlamaForCausalLM.from_pretrained(p("base"), torch_dtype=torch.float32, attn_implementation="eager")
        return m.eval()

    @torch.no_grad()
    def logits_of(m):
        m.eval()
        return m(eval_ids).logits.float()

    def deno(*args):
        flags = os.environ.get("DENO_FLAGS", "").split()  # run.sh: the carried cache and config
        cmd = [a.deno, "run", "-A", *flags, "--no-check", os.path.join(HERE, "peft_roundtrip.ts"), *args,
               "--base", p("base"), "--ids", p("ids.json"), "--backend", a.backend]
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)

    def rel(x, ref):
        return float((x - ref).abs().max() / ref.abs().max().clamp_min(1e-30))

    results = {}

    def record(name, x, ref):
        err = rel(x, ref)
        results[name] = ("PASS" if err <= TOL else "FAIL", err)

    try:
        # base logits
        deno("base", "--logits", p("deno_base.safetensors"))
        record(ROWS[0], load_file(p("deno_base.safetensors"))["logits"], logits_of(load_base()))

        # 2. Deno trains, PEFT loads
        deno("train", "--adapter", p("deno_adapter"), "--steps", str(a.steps),
             "--logits", p("deno_a.safetensors"), "--merged-logits", p("deno_a_merged.safetensors"))
        pm = PeftModel.from_pretrained(load_base(), p("deno_adapter"))
        record(ROWS[1], logits_of(pm), load_file(p("deno_a.safetensors"))["logits"])
        record(ROWS[2], logits_of(pm.merge_and_unload()), load_file(p("deno_a_merged.safetensors"))["logits"])

        # 3. PEFT trains (several block sizes, modules_to_save), Deno loads
        torch.manual_seed(2)
        cfg = C3AConfig(
            block_size=16,
            block_size_pattern={"q_proj": 8, "down_proj": 32, "gate_proj": 64},
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            modules_to_save=["lm_head"],
            init_weights="xavier_uniform",
        )
        pm2 = get_peft_model(load_base(), cfg)
        pm2.train()
        opt = torch.optim.AdamW([q for q in pm2.parameters() if q.requires_grad], lr=0.05)
        for s in range(a.steps):
            loss = pm2(train_ids, labels=train_ids).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            print(f"  PEFT step {s + 1}/{a.steps}: loss {loss.item():.6f} (nats/token)")
        pm2.save_pretrained(p("peft_adapter"))
        ref_b = logits_of(pm2)
        ref_b_merged = logits_of(pm2.merge_and_unload())
        deno("load", "--adapter", p("peft_adapter"),
             "--logits", p("deno_b.safetensors"), "--merged-logits", p("deno_b_merged.safetensors"))
        record(ROWS[3], load_file(p("deno_b.safetensors"))["logits"], ref_b)
        record(ROWS[4], load_file(p("deno_b_merged.safetensors"))["logits"], ref_b_merged)
        save_file({"logits": ref_b.contiguous()}, p("peft_b.safetensors"))
    except Exception as e:  # noqa: BLE001 - report, then the table shows what did not run
        print(f"PEFT round trip: ERROR: {type(e).__name__}: {e}")
        table(results)
        return 1

    table(results)
    ok = all(results.get(n, ("",))[0] == "PASS" for n in ROWS)
    print(f"PEFT round trip: {'PASS' if ok else 'FAIL'} (files in {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
