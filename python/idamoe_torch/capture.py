"""`python -m idamoe_torch capture`: the routers of a Hugging Face MoE causal LM and the hidden states that
reach them on a text, written as a one-snapshot run directory (docs/python.md, "Capturing a Hugging Face
model") that `idamoe inspect`, `idamoe diff`, `idamoe route` and `fit-ida` read.

Routers are found by structure, not by model name: a module with a 2-D `weight` [E, D] (E >= 2, D the
model's hidden size) whose parent also holds the `experts` it chooses among, and a top-k. Softmax gates
(Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE) become `softmax` routers; a gate with an
`e_score_correction_bias` (DeepSeek-V3) becomes a `sigmoid-bias` router whose `expert_bias` is that
correction. The gate options of the contract carry how the model weights and limits its choices:
`norm_topk_prob` (`idamoe.gate_normalize`), DeepSeek-V3's `routed_scaling_factor` (`idamoe.gate_scale`)
and `n_group` / `topk_group` (`idamoe.expert_groups`, `idamoe.group_top_k`). Every captured router is
checked against the model's own choices, and gate weights where the gate returns them, on the text.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

from .layers import ContractError
from .run_lock import check_new_run_directory
from .run_writer import RunWriter
from .softmax_router import LinearGateRouter, SigmoidBiasRouter, SoftmaxRouter

#: Scores closer than this (relative) count as tied: either expert may be chosen. A model run in half
#: precision rounds its gate logits (bfloat16: 2^-8 relative), so its near-ties are wider.
TIE_RTOL = {torch.float32: 1e-5, torch.float64: 1e-5, torch.bfloat16: 2e-2, torch.float16: 5e-3}
#: Gate weights must agree with the model's within this (absolute and relative) on tokens whose experts
#: agree; half precision rounds the model's logits and its weights.
WEIGHT_TOL = {torch.float32: 1e-4, torch.float64: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}


@dataclass
class FoundGate:
    """One MoE router of the model: where it is, what it reads and how it scores."""

    #: Transformer block index (the last integer of the module path).
    block: int
    #: Module path, e.g. `model.layers.3.mlp.gate`.
    name: str
    module: nn.Module
    experts: int
    top_k: int
    #: `softmax` or `sigmoid-bias`.
    kind: str
    #: Gates renormalised over the chosen experts (`norm_topk_prob`; true when the model does not say).
    normalize: bool = True
    #: Factor on every gate (DeepSeek-V3's `routed_scaling_factor`).
    scale: float = 1.0
    #: Expert groups and how many of them are eligible (DeepSeek-V3's `n_group`, `topk_group`).
    groups: int = 1
    group_top_k: int = 1
    #: What the summary should say about this gate.
    notes: List[str] = field(default_factory=list)

    def options(self) -> Tuple[bool, float, int, int]:
        """(normalize, scale, groups, group_top_k), as `set_gate_options` takes them."""
        return self.normalize, self.scale, self.groups, self.group_top_k


def _expert_count(parent: nn.Module) -> Optional[int]:
    """How many routed experts the parent block holds, when its structure says so."""
    experts = getattr(parent, "experts", None)
    if experts is None:
        return None
    if isinstance(experts, (nn.ModuleList, list, tuple)):
        return len(experts)
    for attr in ("num_experts", "num_local_experts", "n_routed_experts"):
        value = getattr(experts, attr, None)
        if isinstance(value, int):
            return value
    for p in experts.parameters(recurse=False):
        if p.dim() == 3:  # fused expert weights [E, out, in]
            return int(p.shape[0])
    return None


def _config_value(config: Any, *names: str) -> Any:
    """The first of the config attributes `names` that is set (None without a config or any of them)."""
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def find_gates(model: nn.Module, hidden_size: int, config: Any = None) -> Dict[int, FoundGate]:
    """{block: gate} for every MoE router of `model` (see the module docstring). One-line errors for what
    the contract cannot hold exactly: per-layer expert counts, top-k, kinds or gate options that differ,
    two routers in one block (gate options that cannot route at all are refused by `router_module`)."""
    modules = dict(model.named_modules())
    found: Dict[int, FoundGate] = {}
    for name, module in modules.items():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or weight.shape[1] != hidden_size:
            continue
        experts = int(weight.shape[0])
        parent = modules.get(name.rsplit(".", 1)[0] if "." in name else "")
        if experts < 2 or parent is None or parent is module or _expert_count(parent) != experts:
            continue
        top_k = getattr(module, "top_k", None) or getattr(parent, "top_k", None) or \
            _config_value(config, "num_experts_per_tok", "moe_top_k", "top_k")
        if not isinstance(top_k, int) or not 1 <= top_k <= experts:
            raise ContractError(f"{name}: a gate over {experts} experts without a usable top-k ({top_k!r})")
        numbers = re.findall(r"(?:^|\.)(\d+)(?=\.|$)", name)
        if not numbers:
            raise ContractError(f"{name}: no block index in the gate's module path")
        block = int(numbers[-1])
        gate = FoundGate(block, name, module, experts, top_k, "softmax")
        _classify(gate, parent, config)
        if block in found:
            raise ContractError(f"{name}: block {block} already has a router ({found[block].name})")
        found[block] = gate
    if not found:
        raise ContractError("no MoE router found (a gate weight [E, D] next to its experts and a top-k)")
    first = next(iter(found.values()))
    for g in found.values():
        if g.experts != first.experts:
            raise ContractError(f"{g.name}: {g.experts} experts, {first.name}: {first.experts}; per-layer expert "
                                "counts are not in the file contract yet")
        if g.top_k != first.top_k or g.kind != first.kind or g.options() != first.options():
            raise ContractError(f"{g.name}: top-{g.top_k} {g.kind} {g.options()}, {first.name}: top-{first.top_k} "
                                f"{first.kind} {first.options()} (normalize, scale, groups, group top-k); one "
                                "checkpoint holds routers of one setting")
    return dict(sorted(found.items()))


def _classify(gate: FoundGate, parent: nn.Module, config: Any) -> None:
    """Sets the router kind and the gate options from the gate, its block or the config (in that order)."""
    m = gate.module

    def setting(*names: str) -> Any:
        for name in names:
            for holder in (m, parent):
                value = getattr(holder, name, None)
                if value is not None:
                    return value
        return _config_value(config, *names)

    normalize = setting("norm_topk_prob")
    gate.normalize = normalize is not False  # absent (Mixtral): the top-k is renormalised
    if isinstance(getattr(m, "e_score_correction_bias", None), torch.Tensor):
        gate.kind = "sigmoid-bias"
        gate.scale = float(setting("routed_scaling_factor") or 1.0)
        gate.groups = int(setting("num_group", "n_group") or 1)
        gate.group_top_k = int(setting("topk_group") or gate.groups)
    if gate.scale != 1.0:
        gate.notes.append(f"routed_scaling_factor {gate.scale} multiplies every gate (idamoe.gate_scale)")
    if not gate.normalize:
        gate.notes.append("norm_topk_prob is false: gates are the selected scores unrenormalised "
                          "(idamoe.gate_normalize false)")
    if gate.groups > 1 and gate.group_top_k < gate.groups:
        gate.notes.append(f"group-limited routing: the best {gate.group_top_k} of {gate.groups} expert groups "
                          "(idamoe.expert_groups, idamoe.group_top_k)")


def router_module(gate: FoundGate) -> Union[SoftmaxRouter, SigmoidBiasRouter]:
    """A contract router holding a copy of the gate's weights (float32)."""
    weight: torch.Tensor = getattr(gate.module, "weight")
    w = weight.detach().float().cpu()
    b = getattr(gate.module, "bias", None)
    has_bias = isinstance(b, torch.Tensor) and b.shape == (gate.experts,)
    router: Union[SoftmaxRouter, SigmoidBiasRouter]
    if gate.kind == "sigmoid-bias":
        # bias_rate 0: a captured bias is the model's, moved by nothing here (run.json says so).
        router = SigmoidBiasRouter(int(w.shape[1]), experts=gate.experts, top_k=gate.top_k, bias=has_bias, bias_rate=0.0)
        correction: torch.Tensor = getattr(gate.module, "e_score_correction_bias")
        router.expert_bias.copy_(correction.detach().float().cpu())
    else:
        router = SoftmaxRouter(int(w.shape[1]), experts=gate.experts, top_k=gate.top_k, bias=has_bias)
    try:
        router.set_gate_options(*gate.options())
    except ContractError as e:
        raise ContractError(f"{gate.name}: {e}") from None
    with torch.no_grad():
        router.gate.weight.copy_(w)
        if has_bias and router.gate.bias is not None and isinstance(b, torch.Tensor):
            router.gate.bias.copy_(b.detach().float().cpu())
    return router.eval()


def model_choices(output: Any, tokens: int, top_k: int) -> Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """(the experts the gate itself chose [N, k], their gate weights [N, k] or None) when its output holds
    the choices: an integer tensor of that shape, with the weights the float tensor of that shape just
    before it, as transformers' top-k routers return (logits, weights, indices). None for a gate that
    returns logits only."""
    items = output if isinstance(output, (tuple, list)) else (output,)
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if isinstance(item, torch.Tensor) and not item.is_floating_point() and tuple(item.shape[-1:]) == (top_k,) \
                and item.numel() == tokens * top_k:
            before = items[i - 1] if i > 0 else None
            weights = None
            if isinstance(before, torch.Tensor) and before.is_floating_point() and before.numel() == tokens * top_k:
                weights = before.detach().reshape(tokens, top_k).cpu().double()
            return item.detach().reshape(tokens, top_k).cpu().long(), weights
    return None


def disagreements(router: LinearGateRouter, hidden: torch.Tensor, choices: torch.Tensor,
                  tie_rtol: float = 1e-5) -> Tuple[int, int]:
    """(tokens whose expert set differs from `choices`, of which away from a tie): a tie is the k-th and
    the (k+1)-th selection scores within `tie_rtol` (relative)."""
    route = router.route(hidden)
    ours = torch.sort(route["experts"], dim=1).values
    theirs = torch.sort(choices, dim=1).values
    differ = (ours != theirs).any(dim=1).nonzero().reshape(-1)
    ranked = route.get("selection", route["probabilities"])
    real = 0
    k = router.top_k
    for n in differ.tolist():
        values = torch.sort(ranked[n], descending=True).values
        if k >= values.numel() or abs(float(values[k - 1] - values[k])) > tie_rtol * abs(float(values[k - 1])):
            real += 1
    return int(differ.numel()), real


def weight_mismatches(router: LinearGateRouter, hidden: torch.Tensor, choices: torch.Tensor, weights: torch.Tensor,
                      tol: float = 1e-4) -> Tuple[int, float]:
    """(tokens whose gate weights differ from the model's `weights` [N, k] beyond `tol` (absolute and
    relative), the largest difference), over the tokens where the router chose the model's experts; the
    weights are matched by expert, since a gate may list its choices in any order."""
    route = router.route(hidden)
    ours_order = torch.sort(route["experts"], dim=1)
    theirs_order = torch.sort(choices, dim=1)
    same = (ours_order.values == theirs_order.values).all(dim=1)
    ours = torch.gather(route["weights"].double(), 1, ours_order.indices)[same]
    theirs = torch.gather(weights, 1, theirs_order.indices)[same]
    diff = (ours - theirs).abs()
    bad = (diff > tol + tol * theirs.abs()).any(dim=1)
    return int(bad.sum()), float(diff.max()) if diff.numel() else 0.0


@dataclass
class Tokens:
    """The text as model token ids, and how to show them."""

    ids: List[int]
    #: `bytes` or the token strings by id (docs/format.md, "Probes").
    vocab: Any
    #: Where the ids came from, shown as the probe's domain name: `tokenizer` or `bytes, no tokenizer`.
    source: str


def tokenize(model_dir: str, text: str, vocab_size: int) -> Tokens:
    """The model's tokenizer on `text` when DIR holds one (token strings decoded one id at a time), else
    the UTF-8 bytes as ids (needs a vocabulary of at least 256)."""
    from transformers import AutoTokenizer

    tokenizer = None
    names = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
    if any(os.path.exists(os.path.join(model_dir, n)) for n in names):
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tokenizer is not None:
        ids = [int(i) for i in tokenizer(text)["input_ids"]]
        vocab = [str(t) for t in tokenizer.batch_decode([[i] for i in range(len(tokenizer))])]
        return Tokens(ids, vocab, "tokenizer")
    if vocab_size < 256:
        raise ContractError(f"{model_dir}: no tokenizer and a vocabulary of {vocab_size} (< 256): the text's bytes "
                            "cannot be its token ids")
    return Tokens(list(text.encode("utf-8")), "bytes", "bytes, no tokenizer")


@dataclass
class CaptureReport:
    """What `capture` wrote and checked."""

    out: str
    tokens: int
    gates: Dict[int, FoundGate]
    token_source: str
    #: {block: (tokens compared with the gate's own choices or -1 when it returns none, mismatches at ties)}.
    checked: Dict[int, Tuple[int, int]]
    #: {block: largest gate-weight difference from the model's own weights, or None when the gate returns none}.
    weights_checked: Dict[int, Optional[float]] = field(default_factory=dict)


def capture(model_dir: str, text: str, out: str, *, max_tokens: int = 2048, window: int = 256,
            dtype: torch.dtype = torch.float32, log: Callable[[str], None] = lambda _: None) -> CaptureReport:
    """Loads the causal LM in `model_dir` (local files only), runs `text` through it in windows of `window`
    tokens (at most `max_tokens`), and writes run directory `out`: the routers (snapshot step 0) and the
    hidden states that reached them (its probe), documents = windows. Refuses when a captured router
    chooses other experts than the model on any token away from a tie, and `out` unless it is a new
    path or an empty directory."""
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # stderr holds errors only
    if window < 1 or max_tokens < 1:
        raise ContractError(f"window ({window}) and max tokens ({max_tokens}) must be at least 1")
    check_new_run_directory(out)  # before the model loads; RunWriter checks again as it creates the run
    if not os.path.isdir(model_dir):
        raise ContractError(f"{model_dir}: not a directory (a Hugging Face model saved with save_pretrained)")
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype).eval()
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    hidden_size = int(text_config.hidden_size)
    gates = find_gates(model, hidden_size, text_config)
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        window = min(window, positions)  # each window is one sequence the model can take
    tokens = tokenize(model_dir, text, int(text_config.vocab_size))
    ids = tokens.ids[:max_tokens]
    if not ids:
        raise ContractError("the text gives no tokens")
    log(f"{len(gates)} MoE routers ({next(iter(gates.values())).kind}, {next(iter(gates.values())).experts} experts, "
        f"top-{next(iter(gates.values())).top_k}) in blocks {','.join(map(str, gates))}; {len(ids)} tokens "
        f"({tokens.source})")

    hidden: Dict[int, List[torch.Tensor]] = {b: [] for b in gates}
    chosen: Dict[int, List[Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]]]] = {b: [] for b in gates}
    handles = []
    for b, g in gates.items():
        def pre(_m: nn.Module, args: tuple, kwargs: dict, block: int = b) -> None:
            h = args[0] if args else kwargs["hidden_states"]
            hidden[block].append(h.detach().reshape(-1, hidden_size).to("cpu", torch.float32))

        def post(_m: nn.Module, _args: tuple, output: Any, block: int = b, k: int = g.top_k) -> None:
            chosen[block].append(model_choices(output, hidden[block][-1].shape[0], k))
        handles.append(g.module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(g.module.register_forward_hook(post))
    documents: List[int] = []
    try:
        with torch.no_grad():
            for start in range(0, len(ids), window):
                piece = ids[start:start + window]
                model(input_ids=torch.tensor([piece]), use_cache=False)
                documents.extend([start // window] * len(piece))
    finally:
        for h in handles:
            h.remove()

    routers = {b: router_module(g) for b, g in gates.items()}
    states: Dict[int, torch.Tensor] = {}
    checked: Dict[int, Tuple[int, int]] = {}
    weights_checked: Dict[int, Optional[float]] = {}
    for b, g in gates.items():
        states[b] = torch.cat(hidden[b])
        if states[b].shape[0] != len(ids):
            raise ContractError(f"{g.name}: saw {states[b].shape[0]} token rows for {len(ids)} tokens (a gate that "
                                "skips tokens cannot be captured)")
        parts = [p for p in chosen[b] if p is not None]
        weights_checked[b] = None
        if len(parts) == len(chosen[b]):
            own = torch.cat([p[0] for p in parts])
            differ, real = disagreements(routers[b], states[b], own, TIE_RTOL.get(dtype, 2e-2))
            if real:
                raise ContractError(f"{g.name}: the captured router chooses other experts than the model on {real} of "
                                    f"{len(ids)} tokens; this gate's routing is not the contract's {g.kind}")
            checked[b] = (len(ids), differ)
            own_weights = [p[1] for p in parts]
            if all(w is not None for w in own_weights):
                bad, largest = weight_mismatches(routers[b], states[b], own, torch.cat([w for w in own_weights if w is not None]),
                                                 WEIGHT_TOL.get(dtype, 5e-2))
                if bad:
                    raise ContractError(f"{g.name}: the captured gate weights differ from the model's on {bad} of {len(ids)} "
                                        f"tokens (by up to {largest:.3g}); this gate's weighting is not the contract's")
                weights_checked[b] = largest
        else:
            checked[b] = (-1, 0)

    source = {"modelDir": os.path.abspath(model_dir),
              "architecture": (getattr(config, "architectures", None) or [type(model).__name__])[0],
              "gates": {str(b): g.name for b, g in gates.items()}, "notes": sorted({n for g in gates.values() for n in g.notes}),
              "tokens": tokens.source, "window": window}
    writer = RunWriter(out, routers, probe_tokens=torch.tensor(ids, dtype=torch.int64),
                       probe_forward=lambda _t: [r(states[b]) for b, r in routers.items()],
                       probe_documents=torch.tensor(documents), probe_domains=torch.zeros(len(ids), dtype=torch.int64),
                       domain_names=[tokens.source], vocab=tokens.vocab, capture=source,
                       parameters=sum(p.numel() for p in model.parameters()))
    with writer:
        writer.snapshot(0)
        writer.finish(0)
    return CaptureReport(out, len(ids), gates, tokens.source, checked, weights_checked)
