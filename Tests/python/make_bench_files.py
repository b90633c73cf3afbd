#!/usr/bin/env python3
"""Writes a synthetic router checkpoint and probe (docs/format.md) for benchmarks and tests.

    python3 Tests/python/make_bench_files.py --out-dir /tmp/bench --d 512 --tokens 50000
    python3 Tests/python/make_bench_files.py --out-dir /tmp/tiny --d 16 --p 4 --experts 4 \
        --components 3 --tokens 200 --layers 2 --hidden-enc 8

Writes OUT_DIR/checkpoint.safetensors and OUT_DIR/probe.safetensors.

The probe is a sequence of documents, each from one of a few domains; a domain is a cluster of
hidden states (a centre, a random low-rank spread and isotropic noise, with its own scale), so the
router has real structure to find. IDA routers get encoder/decoder weights ~ N(0, 1/fan_in), biases
~ N(0, 0.1^2); the last encoder layer is then rescaled so every latent coordinate has unit spread over
the probe. The GMM means are latents of randomly chosen probe tokens plus N(0, 0.25^2) jitter, so
components sit where the data is and are distinguishable; log-variances ~ N(-0.5, 0.3^2) and
logits ~ N(0, 0.3^2). Softmax and sigmoid-bias routers get a gate ~ N(0, 1/D) (plus a bias with
--gate-bias); sigmoid-bias routers also get an expert_bias ~ N(0, 0.1^2) (so it changes some choices).
The IDA gate temperature and the gate options of docs/format.md ("Gate options") are written as
metadata when given; absent, the file says nothing and the defaults apply.

Importable: `make_checkpoint(...)`, `make_probe(...)` and `write_files(...)` return or write the
same tensors; test_interop.py uses them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, Optional, Sequence

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

DOMAIN_NAMES = ["prose", "code", "math", "dialogue", "legal", "poetry", "tables", "urls"]
# Byte ranges that make each domain's tokens look a little different (purely cosmetic).
_DOMAIN_BYTES = [b"etaoinshrdlu ,.", b"(){};=_<>/ ifor\n", b"0123456789+-*/=^ ", b"\"?!'. hey you\n",
                 b"shall ,;() whereof", b"thee love night \n", b"|0123456789 -+\n", b"https://w.com/?=&"]


def _normal(rng: np.random.Generator, shape, std: float) -> np.ndarray:
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)


def _linear(rng, fan_in: int, fan_out: int, bias: bool = True):
    w = _normal(rng, (fan_out, fan_in), 1.0 / np.sqrt(fan_in))
    b = _normal(rng, (fan_out,), 0.1) if bias else None
    return w, b


def make_probe_arrays(n: int, d: int, layers: Sequence[int], domains: int, seed: int):
    """Tokens, domain and document ids, and float32 hidden states [n, d] per layer."""
    rng = np.random.default_rng(seed + 1_000_003)
    domains = max(1, min(domains, len(DOMAIN_NAMES)))
    # Documents of 20..400 tokens, each from one domain.
    doc_of = np.empty(n, np.int32)
    dom_of = np.empty(n, np.int32)
    pos, doc = 0, 0
    while pos < n:
        length = int(rng.integers(20, 401))
        end = min(n, pos + length)
        doc_of[pos:end] = doc
        dom_of[pos:end] = rng.integers(0, domains)
        pos, doc = end, doc + 1
    tokens = np.empty(n, np.int32)
    for c in range(domains):
        sel = np.flatnonzero(dom_of == c)
        alphabet = np.frombuffer(_DOMAIN_BYTES[c], np.uint8).astype(np.int32)
        common = rng.random(sel.size) < 0.85
        tokens[sel] = np.where(common, alphabet[rng.integers(0, alphabet.size, sel.size)],
                               rng.integers(0, 256, sel.size))
    hidden: Dict[int, np.ndarray] = {}
    rank = min(8, d)
    for i in layers:
        h = np.empty((n, d), np.float32)
        for c in range(domains):
            sel = np.flatnonzero(dom_of == c)
            if sel.size == 0:
                continue
            centre = _normal(rng, (d,), 1.0)
            basis = _normal(rng, (rank, d), 1.0 / np.sqrt(rank))
            scale = np.float32(rng.uniform(0.5, 3.0))
            coeff = _normal(rng, (sel.size, rank), 0.8)
            noise = _normal(rng, (sel.size, d), 0.5)
            h[sel] = scale * (centre + coeff @ basis + noise)
        hidden[i] = h
    return tokens, dom_of, doc_of, hidden


def make_probe(n: int, d: int, layers: Sequence[int], domains: int = 4, seed: int = 0,
               dtype: str = "F32", hidden_override: Optional[Dict[int, np.ndarray]] = None):
    """(tensors, metadata) of a probe file."""
    tokens, dom, doc, hidden = make_probe_arrays(n, d, layers, domains, seed)
    if hidden_override:
        hidden.update(hidden_override)
    np_dtype = {"F32": np.float32, "F16": np.float16}[dtype]
    tensors = {"tokens": tokens, "domains": dom, "documents": doc}
    for i, h in hidden.items():
        tensors[f"layers.{i}.hidden"] = np.ascontiguousarray(h.astype(np_dtype))
    names = DOMAIN_NAMES[:max(1, min(domains, len(DOMAIN_NAMES)))]
    meta = {"idamoe.format": "1", "idamoe.vocab": "bytes", "idamoe.domain_names": json.dumps(names)}
    return tensors, meta


def make_checkpoint(d: int, p: int = 32, experts: int = 8, components: int = 16, layers: Sequence[int] = (0,),
                    hidden_enc: Sequence[int] = (128,), seed: int = 0, router: str = "ida", top_k: int = 2,
                    activation: str = "gelu", expert_score: str = "max", input_norm: str = "rms",
                    log_var_min: float = -6.0, log_var_max: float = 6.0, gate_bias: bool = False,
                    probe_hidden: Optional[Dict[int, np.ndarray]] = None, step: int = 1000,
                    latent_norm: str = "none", gate_temperature: Optional[float] = None,
                    gate_normalize: Optional[bool] = None, gate_scale: Optional[float] = None,
                    expert_groups: Optional[int] = None, group_top_k: Optional[int] = None,
                    expert_bias_std: float = 0.1, group_score: Optional[str] = None,
                    selection_bias_on: Optional[str] = None, softmax_expert_bias: bool = False,
                    prior_mass: Optional[str] = None, logit_std: float = 0.3):
    """(tensors, metadata) of a checkpoint. `probe_hidden` (layer -> [n, d]) places the GMM means
    on latents of real probe tokens; without it they are drawn from latents of random inputs.
    `gate_temperature` (IDA) and the gate options (softmax, sigmoid-bias) become their metadata keys
    when given, and so does `prior_mass` (IDA: idamoe.prior_mass); `expert_bias_std` is the spread of a
    sigmoid-bias router's expert_bias (and of a softmax router's, with `softmax_expert_bias`), `logit_std`
    that of an IDA router's prior logits."""
    import idamoe_ref as ref  # the encoder math, to place the means

    rng = np.random.default_rng(seed)
    tensors: Dict[str, np.ndarray] = {}
    meta = {"idamoe.format": "1", "idamoe.router": router,
            "idamoe.moe_layers": ",".join(str(i) for i in layers),
            "idamoe.experts": str(experts), "idamoe.top_k": str(top_k), "idamoe.step": str(step)}
    options = {"idamoe.gate_temperature": gate_temperature, "idamoe.gate_scale": gate_scale,
               "idamoe.expert_groups": expert_groups, "idamoe.group_top_k": group_top_k,
               "idamoe.group_score": group_score, "idamoe.selection_bias_on": selection_bias_on,
               "idamoe.prior_mass": prior_mass,
               "idamoe.gate_normalize": None if gate_normalize is None else str(bool(gate_normalize)).lower()}
    meta.update({key: str(v) for key, v in options.items() if v is not None})
    if router in ("softmax", "sigmoid-bias"):
        for i in layers:
            w, b = _linear(rng, d, experts, bias=gate_bias)
            tensors[f"layers.{i}.router.gate.weight"] = w
            if gate_bias:
                tensors[f"layers.{i}.router.gate.bias"] = b
            if router == "sigmoid-bias" or softmax_expert_bias:
                tensors[f"layers.{i}.router.expert_bias"] = _normal(rng, (experts,), expert_bias_std)
        return tensors, meta
    k = experts * components
    meta.update({"idamoe.components_per_expert": str(components), "idamoe.latent_dim": str(p),
                 "idamoe.activation": activation, "idamoe.expert_score": expert_score,
                 "idamoe.input_norm": input_norm, "idamoe.latent_norm": latent_norm,
                 "idamoe.log_var_min": repr(float(log_var_min)),
                 "idamoe.log_var_max": repr(float(log_var_max))})
    widths = [d] + list(hidden_enc) + [p]
    for i in layers:
        pre = f"layers.{i}.router"
        enc = [_linear(rng, widths[j], widths[j + 1]) for j in range(len(widths) - 1)]
        back = widths[::-1]
        dec = [_linear(rng, back[j], back[j + 1]) for j in range(len(back) - 1)]
        for name, stack in (("encoder", enc), ("decoder", dec)):
            for j, (w, b) in enumerate(stack):
                tensors[f"{pre}.{name}.{j}.weight"] = w
                tensors[f"{pre}.{name}.{j}.bias"] = b
        # Latents of real (or random) inputs, to put the components where the data is.
        if probe_hidden is not None and i in probe_hidden:
            h = probe_hidden[i]
            h = h[rng.choice(h.shape[0], size=min(h.shape[0], 4096), replace=False)]
        else:
            h = _normal(rng, (4096, d), 1.0)
        r = ref.Router(kind="ida", layer=i, experts=experts, top_k=top_k, components_per_expert=components,
                       latent_dim=p, activation=activation, input_norm=input_norm, latent_norm=latent_norm,
                       encoder=enc, decoder=dec)
        z = ref.encode(r, ref.router_input(r, h)).astype(np.float64)
        if latent_norm != "rms":
            # Rescale the last encoder layer so each latent coordinate has unit spread over the data;
            # then log-variances near 0 fit the latent scale (normalised latents have it already).
            spread = (z.std(axis=0) + 1e-6).astype(np.float32)
            w_last, b_last = enc[-1]
            enc[-1] = (w_last / spread[:, None], b_last / spread)
            tensors[f"{pre}.encoder.{len(enc) - 1}.weight"], tensors[f"{pre}.encoder.{len(enc) - 1}.bias"] = enc[-1]
            z = z / spread
        picks = z[rng.choice(z.shape[0], size=k, replace=z.shape[0] < k)]
        means = picks + rng.standard_normal((k, p)) * 0.25
        log_vars = rng.normal(-0.5, 0.3, (k, p))
        tensors[f"{pre}.gmm.logits"] = rng.normal(0.0, logit_std, k).astype(np.float32)
        tensors[f"{pre}.gmm.means"] = means.astype(np.float32)
        tensors[f"{pre}.gmm.log_vars"] = np.clip(log_vars, log_var_min, log_var_max).astype(np.float32)
    return tensors, meta


def write_files(out_dir: str, d: int = 512, p: int = 32, experts: int = 8, components: int = 16,
                tokens: int = 50000, layers: int = 1, hidden_enc: Sequence[int] = (128,), seed: int = 0,
                dtype: str = "F32", router: str = "ida", top_k: int = 2, activation: str = "gelu",
                expert_score: str = "max", input_norm: str = "rms", domains: int = 4,
                gate_bias: bool = False, checkpoint_name: str = "checkpoint.safetensors",
                probe_name: str = "probe.safetensors", probe_d: Optional[int] = None,
                latent_norm: str = "none", **gate):
    """Writes both files; returns (checkpoint path, probe path). `probe_d` makes a mismatched probe;
    `gate` holds make_checkpoint's gate_temperature, gate options, expert_bias_std, prior_mass and logit_std."""
    os.makedirs(out_dir, exist_ok=True)
    layer_ids = list(range(layers))
    probe_tensors, probe_meta = make_probe(tokens, probe_d or d, layer_ids, domains, seed, dtype)
    hidden = {i: probe_tensors[f"layers.{i}.hidden"].astype(np.float32) for i in layer_ids} if not probe_d else None
    ck_tensors, ck_meta = make_checkpoint(d, p, experts, components, layer_ids, hidden_enc, seed, router, top_k,
                                          activation, expert_score, input_norm, gate_bias=gate_bias,
                                          probe_hidden=hidden, latent_norm=latent_norm, **gate)
    ck_path = os.path.join(out_dir, checkpoint_name)
    probe_path = os.path.join(out_dir, probe_name)
    save_file(ck_tensors, ck_path, metadata=ck_meta)
    save_file(probe_tensors, probe_path, metadata=probe_meta)
    return ck_path, probe_path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--d", type=int, default=512, help="hidden width D")
    ap.add_argument("--p", type=int, default=32, help="latent width P")
    ap.add_argument("--experts", type=int, default=8, help="experts E")
    ap.add_argument("--components", type=int, default=16, help="components per expert M")
    ap.add_argument("--tokens", type=int, default=50000, help="probe tokens N")
    ap.add_argument("--layers", type=int, default=1, help="MoE layers (block indices 0..L-1)")
    ap.add_argument("--hidden-enc", default="128",
                    help="encoder hidden width(s), comma-separated (D->h1->..->P; decoder mirrors)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["F32", "F16"], default="F32", help="probe hidden-state dtype")
    ap.add_argument("--router", choices=["ida", "softmax", "sigmoid-bias"], default="ida")
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--activation", choices=["gelu", "gelu_tanh", "relu", "silu", "tanh"], default="gelu")
    ap.add_argument("--expert-score", choices=["max", "sum"], default="max")
    ap.add_argument("--input-norm", choices=["none", "rms"], default="rms")
    ap.add_argument("--domains", type=int, default=4, help="hidden-state clusters / domains (1..8)")
    ap.add_argument("--gate-bias", action="store_true", help="softmax and sigmoid-bias routers: add a gate bias")
    ap.add_argument("--gate-temperature", type=float, help="IDA: idamoe.gate_temperature")
    ap.add_argument("--gate-normalize", choices=["true", "false"], help="idamoe.gate_normalize")
    ap.add_argument("--gate-scale", type=float, help="idamoe.gate_scale")
    ap.add_argument("--expert-groups", type=int, help="idamoe.expert_groups")
    ap.add_argument("--group-top-k", type=int, help="idamoe.group_top_k")
    args = ap.parse_args(argv)
    gate = dict(gate_temperature=args.gate_temperature, gate_scale=args.gate_scale,
                expert_groups=args.expert_groups, group_top_k=args.group_top_k,
                gate_normalize=None if args.gate_normalize is None else args.gate_normalize == "true")
    hidden_enc = [int(v) for v in args.hidden_enc.split(",") if v.strip()]
    ck, probe = write_files(args.out_dir, args.d, args.p, args.experts, args.components, args.tokens, args.layers,
                            hidden_enc, args.seed, args.dtype, args.router, args.top_k, args.activation,
                            args.expert_score, args.input_norm, args.domains, args.gate_bias, **gate)
    for path in (ck, probe):
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
