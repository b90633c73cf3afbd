"""Capture (python -m idamoe_torch capture): tiny randomly initialised Mixtral, Qwen2-MoE (a dense layer
between MoE layers, shared experts, norm_topk_prob false), Qwen3-MoE (every second block MoE), OLMoE
(norm_topk_prob false) and DeepSeek-V3 (sigmoid scores with a score-correction bias, a first dense layer,
routed scaling 2.5; n_group 2 with both groups kept, and n_group 4 with the best 2 kept) models are built
from configs here, saved with save_pretrained and captured from their directories (nothing is
downloaded). `idamoe route --jsonl` on each capture chooses the experts the model's own gates chose on
every token, with the model's own gate weights (within 1e-4); `idamoe inspect` shows the layers and the
tokenizer's text; `idamoe diff` compares two captures; fit-ida fits IDA routers to a capture's probe;
what the contract cannot reproduce is a one-line error.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
import torch
import transformers
from torch import nn

from torch_support import idamoe_binary, route_lines, run_idamoe

from idamoe_torch import ContractError, read_probe
from idamoe_torch.__main__ import main as cli
from idamoe_torch.capture import capture, find_gates

TEXT = ("Routers decide which expert reads each token. def route(h): return top_k(softmax(W @ h), 2)\n"
        "The quick brown fox jumps over the lazy dog; 12 + 30 = 42. Experts balance their load.\n") * 3
WINDOW = 64
COMMON = dict(vocab_size=320, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=128, intermediate_size=48, tie_word_embeddings=False)


def mixtral() -> "transformers.PretrainedConfig":
    return transformers.MixtralConfig(**COMMON, num_local_experts=4, num_experts_per_tok=2)


def qwen2_moe() -> "transformers.PretrainedConfig":
    return transformers.Qwen2MoeConfig(**COMMON, num_experts=6, num_experts_per_tok=2, moe_intermediate_size=16,
                                       shared_expert_intermediate_size=24, mlp_only_layers=[1])


def qwen3_moe() -> "transformers.PretrainedConfig":
    """Every second block MoE (decoder_sparse_step 2), top-k weights renormalised."""
    return transformers.Qwen3MoeConfig(**{**COMMON, "num_hidden_layers": 4}, num_experts=5, num_experts_per_tok=2,
                                       moe_intermediate_size=16, decoder_sparse_step=2, norm_topk_prob=True,
                                       head_dim=8)


def olmoe() -> "transformers.PretrainedConfig":
    return transformers.OlmoeConfig(**COMMON, num_experts=6, num_experts_per_tok=3)


def deepseek_v3(n_group: int = 2, topk_group: int = 2) -> "transformers.PretrainedConfig":
    return transformers.DeepseekV3Config(**{**COMMON, "num_key_value_heads": 4}, n_routed_experts=8,
                                         num_experts_per_tok=2, moe_intermediate_size=16, n_shared_experts=1,
                                         n_group=n_group, topk_group=topk_group, first_k_dense_replace=1,
                                         kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=8, v_head_dim=8,
                                         qk_nope_head_dim=8, routed_scaling_factor=2.5)


#: name: (config, tokenizer saved with the model or None, MoE blocks)
MODELS: Dict[str, Tuple[Callable[[], "transformers.PretrainedConfig"], object, List[int]]] = {
    "mixtral": (mixtral, None, [0, 1, 2]),
    "qwen2_moe": (qwen2_moe, "bpe", [0, 2]),
    "qwen3_moe": (qwen3_moe, None, [1, 3]),
    "olmoe": (olmoe, "wordlevel", [0, 1, 2]),
    "deepseek_v3": (deepseek_v3, None, [1, 2]),
    "deepseek_v3_grouped": (lambda: deepseek_v3(n_group=4, topk_group=2), None, [1, 2]),
}

#: The gate options each capture must carry in its checkpoint metadata (absent keys: the defaults).
GATE_METADATA: Dict[str, Dict[str, str]] = {
    "mixtral": {},
    "qwen2_moe": {"idamoe.gate_normalize": "false"},
    "qwen3_moe": {},
    "olmoe": {"idamoe.gate_normalize": "false"},
    "deepseek_v3": {"idamoe.gate_scale": "2.5"},  # 2 groups, both kept: the plain top-k
    "deepseek_v3_grouped": {"idamoe.gate_scale": "2.5", "idamoe.expert_groups": "4", "idamoe.group_top_k": "2"},
}


def save_tokenizer(kind: object, directory: Path) -> None:
    """A tokenizer trained offline on TEXT (byte-level BPE or whitespace words), saved with the model."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        tok.decoder = decoders.WordPiece(prefix="##")
        trainer = trainers.WordLevelTrainer(vocab_size=300, special_tokens=["<unk>"])
    tok.train_from_iterator([TEXT], trainer)
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>").save_pretrained(str(directory))


def build(name: str, directory: Path, config: "transformers.PretrainedConfig", seed: int = 0) -> nn.Module:
    """A random model whose gates decide clearly (weights scaled up from the tiny init; DeepSeek-V3's
    correction bias random, so it changes choices), saved to `directory`."""
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for gate in model_gates(model).values():
            gate.weight.normal_(0, 0.6)
            if hasattr(gate, "e_score_correction_bias"):
                gate.e_score_correction_bias.uniform_(-0.2, 0.2)
    model.save_pretrained(str(directory))
    tokenizer = MODELS.get(name, (None, None, None))[1]
    if tokenizer is not None:
        save_tokenizer(tokenizer, directory)
    return model


def model_gates(model: nn.Module) -> Dict[int, nn.Module]:
    """{block: gate} by these models' own layout (`model.layers.{i}.mlp.gate`), independent of find_gates."""
    return {int(name.split(".")[2]): m for name, m in model.named_modules() if name.endswith(".mlp.gate")}


def own_choices(model: nn.Module, ids: torch.Tensor) -> Dict[int, Tuple[torch.Tensor, ...]]:
    """{block: (experts [N, k], gate weights [N, k], selection scores [N, E], router logits [N, E])} as the
    model's gates return them (hooks on the gate outputs: logits, top-k weights, top-k indices), over the
    same windows."""
    gates = model_gates(model)
    out: Dict[int, List[Tuple[torch.Tensor, ...]]] = {b: [] for b in gates}
    handles = []
    for b, g in gates.items():
        def hook(module, _args, output, block=b):
            logits, weights, indices = output
            scores = torch.sigmoid(logits.float()) + module.e_score_correction_bias \
                if hasattr(module, "e_score_correction_bias") else torch.softmax(logits.float(), dim=-1)
            out[block].append((indices.reshape(-1, indices.shape[-1]), weights.reshape(indices.shape[0], -1), scores,
                               logits.float()))
        handles.append(g.register_forward_hook(hook))
    with torch.no_grad():
        for start in range(0, ids.numel(), WINDOW):
            model(input_ids=ids[start:start + WINDOW][None], use_cache=False)
    for h in handles:
        h.remove()
    return {b: tuple(torch.cat([p[j] for p in parts]) for j in range(4)) for b, parts in out.items()}


def changed_choices(own: Dict[int, Tuple[torch.Tensor, ...]], ranked: Callable[[Tuple[torch.Tensor, ...]], torch.Tensor]) -> int:
    """Tokens (over blocks) whose model choices differ from a plain top-k of `ranked(block outputs)` [N, E]."""
    return sum(int((torch.sort(t[0], dim=1).values != torch.sort(torch.topk(ranked(t), t[0].shape[1]).indices, dim=1).values)
                   .any(dim=1).sum()) for t in own.values())


def safetensors_metadata(path: str) -> Dict[str, str]:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        return dict(f.metadata() or {})


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> Dict[str, Tuple[Path, nn.Module]]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("capture")
    (root / "text.txt").write_text(TEXT)
    done = {}
    for name, (config, _, _) in MODELS.items():
        model = build(name, root / name, config())
        capture(str(root / name), TEXT, str(root / f"{name}-run"), window=WINDOW)
        done[name] = (root / f"{name}-run", model)
    return done


def snapshot(run: Path) -> Tuple[str, str]:
    return str(run / "snapshots" / "step-00000000.safetensors"), str(run / "snapshots" / "step-00000000.probe.safetensors")


@pytest.mark.parametrize("name", list(MODELS))
def test_captured_routing_is_the_models_own(captures, name: str) -> None:
    run, model = captures[name]
    ck, probe = snapshot(run)
    tokens, hidden, _ = read_probe(probe)
    assert sorted(hidden) == MODELS[name][2], f"MoE blocks {sorted(hidden)}"
    lines = route_lines(ck, probe)
    own = own_choices(model, tokens.long())
    blocks = sorted(own)
    assert blocks == MODELS[name][2] and len(lines) == tokens.numel() * len(blocks)
    problems, ties = [], 0
    for i, line in enumerate(lines):
        n, block = divmod(i, len(blocks))
        experts, weights, scores, _ = (t[n] for t in own[blocks[block]])
        assert line["layer"] == blocks[block] and line["token"] == n
        if sorted(line["experts"]) != sorted(experts.tolist()):
            ranked = torch.sort(scores.double(), descending=True).values
            k = experts.numel()
            if abs(float(ranked[k - 1] - ranked[k])) <= 1e-5 * float(ranked[k - 1]):
                ties += 1
                continue
            problems.append(f"token {n} block {blocks[block]}: idamoe {line['experts']}, model {experts.tolist()}")
            continue
        # The model's own weights (norm_topk_prob false, routed_scaling_factor), matched by expert: the
        # model lists its choices in any order.
        theirs = {int(e): float(w) for e, w in zip(experts, weights)}
        if any(abs(w - theirs[e]) > 1e-4 for e, w in zip(line["experts"], line["weights"])):
            problems.append(f"token {n} block {blocks[block]}: weights {line['weights']}, model {theirs}")
    assert not problems, f"{name}: {len(problems)} disagreements:\n" + "\n".join(problems[:12])
    assert ties <= tokens.numel() // 100, f"{name}: {ties} ties"
    if name.startswith("deepseek_v3"):  # the correction bias (and the groups) must change choices, or went untested
        assert changed_choices(own, lambda t: t[3]) > 0, "e_score_correction_bias changed no choice"
        if name == "deepseek_v3_grouped":
            assert changed_choices(own, lambda t: t[2]) > 0, "dropping groups changed no choice"
    if {"idamoe.gate_normalize", "idamoe.gate_scale"} & set(GATE_METADATA[name]):  # the gates must show it
        sums = torch.tensor([sum(line["weights"]) for line in lines])
        assert (sums - 1).abs().max() > 1e-2, f"{name}: gate weights sum to 1, yet the model does not renormalise them"
    file_meta = safetensors_metadata(ck)
    keys = ("idamoe.gate_normalize", "idamoe.gate_scale", "idamoe.expert_groups", "idamoe.group_top_k")
    assert {k: file_meta[k] for k in keys if k in file_meta} == GATE_METADATA[name]
    meta = json.loads((run / "run.json").read_text())
    assert meta["model"]["router"] == ("sigmoid-bias" if name.startswith("deepseek_v3") else "softmax")
    assert meta["capture"]["tokens"] == ("tokenizer" if MODELS[name][1] else "bytes, no tokenizer")


@pytest.mark.parametrize("name", ["qwen2_moe", "deepseek_v3_grouped"])
def test_inspect_shows_the_layers_and_the_text(captures, name: str) -> None:
    run, _ = captures[name]
    frame = run_idamoe("inspect", str(run), "--headless", "--size", "120x40").stdout
    kind = "sigmoid-bias" if name.startswith("deepseek_v3") else "softmax"
    assert f"{kind} router" in frame and "finished" in frame, frame
    for block in MODELS[name][2]:
        assert f"L{block} " in frame, f"layer {block} missing:\n{frame}"
    text = run_idamoe("inspect", str(run), "--headless", "--size", "120x40", "--keys", "4").stdout
    assert "Routers decide which expert" in text, text
    assert ("domain tokenizer" if MODELS[name][1] else "domain bytes, no tokenizer") in text, text


def test_diff_compares_two_captures(captures, tmp_path: Path) -> None:
    """The same Mixtral with block 1's gate perturbed: block 0 routes identically, block 1 does not."""
    run, model = captures["mixtral"]
    config = mixtral()
    perturbed = build("mixtral-b", tmp_path / "model", config)
    with torch.no_grad():
        perturbed.model.layers[1].mlp.gate.weight.add_(torch.randn(4, 32) * 0.6)
    perturbed.save_pretrained(str(tmp_path / "model"))
    capture(str(tmp_path / "model"), TEXT, str(tmp_path / "run"), window=WINDOW)
    out = json.loads(run_idamoe("diff", str(run), str(tmp_path / "run"), "--json").stdout)
    agreement = {l["layer"]: l["agreement"]["raw"]["top1"] for l in out["layers"]}
    assert agreement[0] == 1.0 and agreement[1] < 0.95, agreement
    assert not out["same_run"] and out["probe"]["tokens"] > 0


def test_fit_ida_on_a_capture_is_read_by_route(captures, tmp_path: Path) -> None:
    from idamoe_torch.fit import fit_ida

    run, _ = captures["olmoe"]
    ck, probe = snapshot(run)
    out = str(tmp_path / "ida.safetensors")
    fit_ida(probe, out, 6, 2, 4, hidden=[16], top_k=3, steps=20, batch=128, react_every=5)
    tokens, hidden, _ = read_probe(probe)
    lines = route_lines(out, probe)
    assert len(lines) == tokens.numel() * len(hidden) and all(len(l["experts"]) == 3 for l in lines)
    assert all(l["log_density"] is not None for l in lines)
    run_idamoe("diff", ck, out, "--probe", probe)


def test_the_summary_names_the_gate_options_and_the_weight_check(tmp_path: Path, capsys) -> None:
    build("deepseek_v3_grouped", tmp_path / "grouped", deepseek_v3(n_group=2, topk_group=1))
    (tmp_path / "text.txt").write_text(TEXT)
    capsys.readouterr()
    code = cli(["capture", "--model", str(tmp_path / "grouped"), "--text", str(tmp_path / "text.txt"),
                "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "the best 1 of 2 expert groups" in out and "times 2.5" in out, out
    assert out.count("gate weights within") == 2 + 1, out  # each block, and the note


def test_gate_weights_the_contract_cannot_reproduce_are_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    """A gate whose weights follow no rule of the contract (here: Mixtral's renormalised weights, swapped
    between the two experts chosen) is refused with a one-line error naming the closest rule, though its
    choices agree."""
    model = build("mixtral", tmp_path / "model", mixtral())
    router_class = type(model_gates(model)[0])
    original = router_class.forward

    def halved(self, hidden_states):
        logits, weights, indices = original(self, hidden_states)
        return logits, weights.flip(-1), indices
    monkeypatch.setattr(router_class, "forward", halved)
    (tmp_path / "text.txt").write_text(TEXT)
    capsys.readouterr()
    code = cli(["capture", "--model", str(tmp_path / "model"), "--text", str(tmp_path / "text.txt"),
                "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "the same experts on every token, other gate weights" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_bfloat16_model_is_captured_with_its_near_ties_counted(tmp_path: Path) -> None:
    """In bfloat16 the gate rounds its logits while the float32 checkpoint does not: the check accepts
    choices that differ only at near-ties of that precision and counts them (a few at most)."""
    build("mixtral", tmp_path / "model", mixtral())
    report = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "run"), window=WINDOW, dtype=torch.bfloat16)
    for block, check in report.checks.items():
        assert check.tokens == report.tokens and check.ties <= report.tokens // 50, (block, check)
    _, hidden, _ = read_probe(snapshot(tmp_path / "run")[1])
    assert sorted(hidden) == [0, 1, 2] and all(h.dtype == torch.float32 for h in hidden.values())


def test_diff_a_trained_run_against_a_capture_of_the_same_text(captures, tmp_path: Path) -> None:
    """`idamoe diff RUN CAPTURE --text FILE`: the trained run's own model runs the text's
    bytes; the capture, which holds routers only, is compared on its own probe, which holds exactly
    those bytes (no tokenizer: byte ids). The header and JSON say the same text went through each model;
    a text the capture did not see is refused with a way to make one."""
    run, _ = captures["mixtral"]
    text = tmp_path / "text.txt"
    text.write_bytes(TEXT.encode())
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(2):
        (corpus / f"d{d}").write_text("%\n".join(f"doc {i} of domain {d}: the quick brown fox {i * d}\n" for i in range(30)))
    trained = tmp_path / "trained"
    tiny = ["--width", "16", "--heads", "2", "--blocks", "2", "--context", "16", "--experts", "4", "--top-k", "2",
            "--expert-hidden", "16", "--components", "2", "--latent", "4", "--router-hidden", "8", "--batch", "2",
            "--threads", "1", "--quiet", "--steps", "4", "--snapshot-every", "2", "--eval-every", "2"]
    out = run_idamoe("train", "--run-dir", str(trained), "--corpus", str(corpus), *tiny)
    assert out.returncode == 0, out.stderr
    diff = run_idamoe("diff", str(trained), str(run), "--text", str(text), "--json")
    assert diff.returncode == 0, diff.stderr
    doc = json.loads(diff.stdout)
    assert doc["basis"] == "text" and doc["probe"]["tokens"] == len(TEXT.encode())
    assert [l["layer"] for l in doc["layers"]] == [0, 1]
    assert doc["a"]["router"] == "ida" and doc["b"]["router"] == "softmax"
    table = run_idamoe("diff", str(trained), str(run), "--text", str(text))
    assert "basis  the same text through each model" in table.stdout
    other = tmp_path / "other.txt"
    other.write_text("a text the capture never saw")
    refused = subprocess.run([idamoe_binary(), "diff", str(trained), str(run), "--text", str(other)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "holds routers only" in refused.stderr and "idamoe_torch capture --text" in refused.stderr
