"""Every MoE architecture transformers ships, captured and checked token by token.

The architectures are enumerated from transformers' own mappings: every causal-LM model type whose config
(or text config, or a sub-config) has an expert count (`num_experts`, `num_local_experts`,
`n_routed_experts`, `moe_num_experts`). Each is built tiny and random from its config class (nothing is
downloaded; the few configs that need it get a line in OVERRIDES), its gates' weights scaled up so they
decide clearly and every [E] vector beside a gate (a selection bias) drawn at random so it changes choices.
`capture` writes it or refuses it; a capture's routers then go through `idamoe route --jsonl`, whose
experts and gate weights must be, on every token of every MoE block, what the model's own blocks hand
their experts (read here by hooks of this file's own, independently of the capture modules).

The results form the verified-architectures table of docs/python.md; the test fails when that table and
these results differ (a new transformers, a new architecture), or when a written capture routes otherwise
than its model. `IDAMOE_WRITE_ARCHITECTURES=1 pytest Tests/python/test_capture_architectures.py` rewrites
the table after a reviewed change.
"""
from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import torch
import transformers
from torch import nn

from torch_support import REPO, route_lines

from idamoe_torch import ContractError, read_probe
from idamoe_torch.capture import capture, find_gates

DOC = REPO / "docs" / "python.md"
BEGIN, END = "<!-- verified architectures: begin -->", "<!-- verified architectures: end -->"
TEXT = ("Routers decide which expert reads each token. The quick brown fox jumps over the lazy dog; 12 + 30 = 42. "
        "def route(h): return top_k(softmax(W @ h), 2)\n") * 3
WINDOW = 48
EXPERT_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts")
TOP_K_KEYS = ("num_experts_per_tok", "moe_topk", "moe_k", "top_k_experts", "num_experts_per_token", "moe_top_k")
LAYERS = 4
#: Sizes every tiny config gets where its class has the key.
SIZES: Dict[str, Any] = dict(vocab_size=320, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                             intermediate_size=64, moe_intermediate_size=32, shared_expert_intermediate_size=32,
                             shared_experts_intermediate_size=32, expert_ffn_hidden_size=32, ffn_hidden_size=64,
                             max_position_embeddings=256, num_hidden_layers=LAYERS, first_k_dense_replace=1,
                             num_dense_layers=1, mlp_only_layers=[0], n_shared_experts=1, num_shared_experts=1,
                             router_hidden_size=32, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                             tie_word_embeddings=False, enable_moe_block=True, is_moe=True,
                             # latent attention (DeepSeek-V2/V3 and their kin)
                             kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8,
                             # sparse-attention indexers
                             index_topk=16, index_head_dim=16, index_n_heads=2, index_num_heads=2)
#: What a few configs need beyond SIZES (transformers' own defaults that do not build or run when small).
OVERRIDES: Dict[str, Dict[str, Any]] = {
    "dbrx": dict(n_layers=LAYERS, d_model=64, n_heads=4, max_seq_len=256,
                 ffn_config=dict(ffn_hidden_size=32, moe_num_experts=8, moe_top_k=2),
                 attn_config=dict(kv_n_heads=2, clip_qkv=8.0)),
    "doge": dict(num_experts=16),  # product-key experts: a square count
    "lfm2_moe": dict(layer_types=["conv", "full_attention", "conv", "full_attention"]),
    "qwen4_exp_text": dict(indexer_n_heads=2, indexer_kv_heads=1, indexer_head_dim=16, indexer_budget=16,
                           indexer_compress_ratio=4),
    "zaya": dict(num_experts_per_tok=1),  # top-1 only
    # saving pads the embeddings to the default vocabulary: keep it
    "inkling2_text": dict(vocab_size=200058),
    "inkling2_loop_text": dict(vocab_size=200058),
}
#: Attributes some modeling code reads that a small config does not set (transformers bugs worked around).
PATCHES: Dict[str, Dict[str, Any]] = {"dbrx": {"attn_config.rope_theta": 10000.0}}


def text_config(config: Any) -> Any:
    try:
        return config.get_text_config()
    except Exception:  # several text configs: the config itself
        return config


def has(config: Any, key: str) -> bool:
    try:
        return hasattr(config, key)
    except Exception:  # a per-layer attribute read globally: it is there
        return True


def expert_keys(config: Any, depth: int = 0) -> List[str]:
    found = [k for k in EXPERT_KEYS if has(config, k)]
    for k, v in vars(config).items():
        if isinstance(v, transformers.PretrainedConfig) and depth == 0:
            found += [f"{k}.{x}" for x in expert_keys(v, 1)]
        elif isinstance(v, dict) and depth == 0:
            found += [f"{k}.{x}" for x in v if x in EXPERT_KEYS]
    return found


def moe_architectures() -> Dict[str, List[str]]:
    """{config class: [model types]} of every causal-LM model type whose config has an expert count."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    out: Dict[str, List[str]] = {}
    for model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        try:
            config = text_config(CONFIG_MAPPING[model_type]())
        except Exception:
            continue
        if expert_keys(config):
            out.setdefault(type(config).__name__, []).append(model_type)
    return out


def tiny_config(model_type: str, **extra: Any) -> Any:
    """A small config of `model_type` (4 layers, width 64, 8 experts, top-2; `extra` on top)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    default = text_config(CONFIG_MAPPING[model_type]())
    kwargs: Dict[str, Any] = {k: v for k, v in SIZES.items() if has(default, k)}
    kwargs.update({k: 8 for k in EXPERT_KEYS if has(default, k)})
    kwargs.update({k: 2 for k in TOP_K_KEYS if has(default, k)})
    for key in ("n_group", "num_expert_group"):
        groups = getattr(default, key, None)
        if isinstance(groups, int) and groups > 1:  # groups of 2 experts, the best 2 of 4 kept
            kwargs[key], kwargs["topk_group"] = 4, 2
    for key, value in vars(default).items():
        if isinstance(value, list) and len(value) == getattr(default, "num_hidden_layers", -1) and len(value) > LAYERS:
            kwargs[key] = value[:LAYERS]  # per-layer lists (layer types, MoE or dense), cut to the tiny depth
    if has(default, "kv_lora_rank"):  # latent attention: as many key-value heads as heads, rope-sized heads
        kwargs["num_key_value_heads"] = kwargs.get("num_attention_heads", 4)
        kwargs["head_dim"] = kwargs["qk_rope_head_dim"]
    kwargs.update(OVERRIDES.get(model_type, {}))
    kwargs.update(extra)
    config = type(default)(**kwargs)
    for path, value in PATCHES.get(model_type, {}).items():
        holder, name = path.rsplit(".", 1)
        setattr(getattr(config, holder), name, value)
    return config


def build(model_type: str, directory: Path, **extra: Any) -> nn.Module:
    """A tiny random model saved to `directory`: gate weights ~ N(0, 0.6^2) so they decide clearly, every
    [E] vector beside a gate ~ U(-0.2, 0.2) so a selection bias changes choices."""
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(tiny_config(model_type, **extra)).eval()
    try:
        gates = find_gates(model, int(text_config(model.config).hidden_size))
    except ContractError:
        gates = {}
    with torch.no_grad():
        for g in gates.values():
            g.module.weight.normal_(0, 0.6)
            for v in g.vectors.values():
                v.uniform_(-0.2, 0.2)
    model.save_pretrained(str(directory))
    return model


def own_routing(model: nn.Module, ids: torch.Tensor) -> Dict[int, Tuple[torch.Tensor, torch.Tensor]]:
    """{block: (experts [N, k], weights [N, k])} as the model's MoE blocks hand them to their experts:
    `experts(hidden, indices, weights)` read by a pre-hook, or, where the experts take the scaled tokens
    alone (Llama 4), the router's scores [N, E] (zero for experts not chosen), or where the MLP's router
    hands its experts a dispatch sorted by expert (JetMoe), that dispatch. Same windows as capture."""
    parts: Dict[int, List[Tuple[torch.Tensor, torch.Tensor]]] = {}
    handles = []
    for name, module in model.named_modules():
        if name.endswith(".mlp.router") and not isinstance(module, nn.Linear):
            # JetMoe: the MLP experts' router hands them a dispatch sorted by expert (sorted positions,
            # their token rows, their gates, tokens per expert, logits); the attention experts' routers
            # are not the MLP's and are left out
            def dispatch(_m, args, output, block=int(re.findall(r"\.(\d+)\.", name)[-1])):
                if not (isinstance(output, tuple) and len(output) == 5 and isinstance(output[3], list)):
                    return
                _, token, gates, sizes, _ = output
                n = args[0].reshape(-1, args[0].shape[-1]).shape[0]
                expert = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
                chosen: List[List[Tuple[int, float]]] = [[] for _ in range(n)]
                for e, t, w in zip(expert.tolist(), token.tolist(), gates.double().tolist()):
                    chosen[t].append((e, w))
                parts.setdefault(block, []).append((torch.tensor([[e for e, _ in c] for c in chosen]),
                                                    torch.tensor([[w for _, w in c] for c in chosen], dtype=torch.float64)))
            handles.append(module.register_forward_hook(dispatch))
            continue
        if not name.endswith(".experts") or isinstance(module, nn.ModuleList):
            continue
        block = int(re.findall(r"\.(\d+)\.", name + ".")[-1])
        if len(inspect.signature(module.forward).parameters) >= 3:
            def pre(_m, args, kwargs, block=block):
                values = list(args) + list(kwargs.values())
                idx, w = values[1].reshape(values[0].reshape(-1, values[0].shape[-1]).shape[0], -1), values[2]
                w = w.reshape(idx.shape[0], -1)
                if w.shape[1] != idx.shape[1]:
                    w = torch.gather(w, 1, idx.long())
                parts.setdefault(block, []).append((idx.long(), w.double()))
            handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        else:
            router = getattr(model.get_submodule(name.rsplit(".", 1)[0]), "router", None)
            if router is None:
                continue

            def post(_m, _args, output, block=block):
                scores = output[0].double()
                idx = (scores != 0).nonzero()[:, 1].reshape(scores.shape[0], -1)
                parts.setdefault(block, []).append((idx, torch.gather(scores, 1, idx)))
            handles.append(router.register_forward_hook(post))
    try:
        with torch.no_grad():
            for start in range(0, ids.numel(), WINDOW):
                model(input_ids=ids[start:start + WINDOW][None], use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return {b: (torch.cat([p[0] for p in ps]), torch.cat([p[1] for p in ps])) for b, ps in sorted(parts.items())}


def route_mismatches(run: Path, own: Dict[int, Tuple[torch.Tensor, torch.Tensor]]) -> List[str]:
    """Where `idamoe route --jsonl` on the capture differs from the model's own routing: experts away from
    a tie of the model's selection (within 1e-5 relative is not checked: either may be chosen; at most 1%
    of tokens), gate weights beyond 1e-4 matched by expert."""
    ck = str(run / "snapshots" / "step-00000000.safetensors")
    probe = str(run / "snapshots" / "step-00000000.probe.safetensors")
    tokens, hidden, _ = read_probe(probe)
    if sorted(hidden) != sorted(own):
        return [f"captured blocks {sorted(hidden)}, the model's MoE blocks {sorted(own)}"]
    lines = route_lines(ck, probe, "--posterior")
    blocks = sorted(own)
    problems, ties = [], 0
    for i, line in enumerate(lines):
        n, block = divmod(i, len(blocks))
        experts, weights = (t[n] for t in own[blocks[block]])
        if sorted(line["experts"]) != sorted(experts.tolist()):
            ties += 1
            continue
        theirs = {int(e): float(w) for e, w in zip(experts, weights)}
        if any(abs(w - theirs[e]) > 1e-4 * (1 + abs(theirs[e])) for e, w in zip(line["experts"], line["weights"])):
            problems.append(f"token {n} block {blocks[block]}: weights {line['weights']}, model {theirs}")
    if ties > tokens.numel() * len(blocks) // 100:
        problems.append(f"other experts than the model on {ties} of {tokens.numel() * len(blocks)} token-blocks")
    return problems


def verify(model_type: str, root: Path) -> str:
    """`exact`, or `refused: REASON` (capture's own one-line error); anything else is a failure."""
    try:
        model = build(model_type, root / "model")
    except Exception as e:  # the tiny config needs an OVERRIDES line
        return f"NOT BUILT ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    try:
        report = capture(str(root / "model"), TEXT, str(root / "run"), window=WINDOW, batch=2)
    except ContractError as e:
        return "refused: " + _general(str(e))
    if report.unverified:
        return "WRONG: written unverified without --unverified"
    problems = route_mismatches(root / "run", own_routing(model, torch.tensor(list(TEXT.encode()))))
    if problems:
        return f"WRONG: idamoe route differs from the model: {problems[0]}"
    return f"exact ({report.rule})"


def _general(reason: str) -> str:
    """A refusal without the numbers of this tiny model that a rerun could shift (counts of tokens)."""
    reason = re.sub(r"\bmodel\.layers\.\d+\.", "model.layers.N.", reason)
    reason = re.sub(r"on \d+ of \d+ token-blocks( \(by up to [\d.e-]+\))?", "on some", reason)
    reason = re.sub(r"times [\d.e-]+:", "times a scale:", reason)
    reason = re.sub(r"; --unverified writes.*$", "", reason)
    return reason.replace("|", "/")


def table(results: Dict[str, Tuple[List[str], str]]) -> str:
    lines = ["| architecture (model types) | capture |", "| --- | --- |"]
    for config_class, (types, result) in sorted(results.items(), key=lambda kv: kv[1][0][0]):
        lines.append(f"| {config_class.replace('Config', '')} ({', '.join(types)}) | {result} |")
    exact = sum(r.startswith("exact") for _, r in results.values())
    lines.append("")
    lines.append(f"{exact} of {len(results)} exact, {len(results) - exact} refused (transformers {transformers.__version__}).")
    return "\n".join(lines)


def test_every_moe_architecture_is_captured_exactly_or_refused(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    results: Dict[str, Tuple[List[str], str]] = {}
    for config_class, types in moe_architectures().items():
        model_type = next((t for t in types if t in OVERRIDES), types[0])
        root = tmp_path / model_type
        root.mkdir()
        results[config_class] = (types, verify(model_type, root))
    wrong = {c: r for c, (_, r) in results.items() if not (r.startswith("exact") or r.startswith("refused"))}
    assert not wrong, "\n".join(f"{c}: {r}" for c, r in wrong.items())
    text = DOC.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    measured = "\n" + table(results) + "\n"
    if os.environ.get("IDAMOE_WRITE_ARCHITECTURES") == "1":
        DOC.write_text(text[:start] + measured + text[end:])
        text = DOC.read_text()
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)  # the table may have changed length
    assert text[start:end] == measured, ("docs/python.md's verified-architectures table is not what the architectures "
                                         "do now; review and rewrite it with IDAMOE_WRITE_ARCHITECTURES=1:\n" + measured)
