"""The gate rules capture finds beyond a plain top-k (docs/format.md, "Gate options"), each on a tiny random
model built from its transformers config (nothing downloaded; test_capture_architectures.build: gate
weights that decide clearly, every [E] vector beside a gate drawn at random so a selection bias changes
choices):

- DeepSeek-V2 with `topk_method` group_limited_greedy: groups scored by their best expert
  (`idamoe.group_score` max);
- Ernie 4.5 MoE: softmax probabilities + `moe_statics.e_score_correction_bias` choose, the unbiased
  probabilities weigh (a softmax router's `expert_bias`);
- Kolibri: top-k by logit + `e_score_correction_bias` (`idamoe.selection_bias_on` logits).

Each capture must name the rule, write its metadata and selection bias, and route (`idamoe route --jsonl`
on what it wrote) every token of every MoE block as the model's own blocks hand their experts. With the
rule taken out of capture's candidates the same model must be refused, so these tests fail when the rule
is not what makes the capture exact.

And JetMoe's MLP router, captured beside the attention routers it leaves out; PhiMoE, DeepSeek-V4 and
Gemma 4 refused naming what they do outside the contract (Gemma 4's per-expert scale found from the
model's own gate weights, and the vector beside the gate that holds it).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
from safetensors import safe_open

from test_capture_architectures import TEXT, WINDOW, build, own_routing, route_mismatches

from idamoe_torch import ContractError, capture_check
from idamoe_torch.capture import capture
from idamoe_torch.capture_rules import RuleKey

CASES: Dict[str, Dict[str, Any]] = {
    "deepseek_v2_group_limited_greedy": dict(
        model_type="deepseek_v2", config=dict(topk_method="group_limited_greedy", n_group=4, topk_group=1),
        rule="softmax, gates unrenormalised, the best 1 of 4 expert groups (a group scored by its best expert), "
             "top-2 of 8 experts",
        metadata={"idamoe.router": "softmax", "idamoe.expert_groups": "4", "idamoe.group_top_k": "1",
                  "idamoe.group_score": "max", "idamoe.gate_normalize": "false"},
        bias=None, uses=lambda key: key.group_score == "max"),
    "ernie4_5_moe": dict(
        model_type="ernie4_5_moe", config={},
        rule="softmax + selection bias gate.moe_statics.e_score_correction_bias, gates renormalised, top-2 of 8 experts",
        metadata={"idamoe.router": "softmax"},
        bias="gate.moe_statics.e_score_correction_bias", uses=lambda key: key.kind == "softmax" and bool(key.bias)),
    "kolibri1": dict(
        model_type="kolibri1", config={},
        rule="sigmoid, chosen by logits + selection bias gate.e_score_correction_bias, gates unrenormalised, top-2 of "
             "8 experts",
        metadata={"idamoe.router": "sigmoid-bias", "idamoe.selection_bias_on": "logits", "idamoe.gate_normalize": "false"},
        bias="gate.e_score_correction_bias", uses=lambda key: key.bias_on == "logits"),
}


def blocks_of(model: torch.nn.Module) -> Dict[int, torch.nn.Module]:
    """{block: MoE block module} of a tiny model (every layer past the first dense one)."""
    return {i: layer.mlp for i, layer in enumerate(model.model.layers) if hasattr(layer.mlp, "gate")
            and hasattr(layer.mlp, "experts")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_rule_is_found_written_and_routes_as_the_model(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    model = build(case["model_type"], tmp_path / "model", **case["config"])
    report = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "run"), window=WINDOW, batch=2)
    assert report.rule == case["rule"] and not report.unverified, report.notes
    moe = blocks_of(model)
    assert sorted(report.checks) == sorted(moe) and len(moe) >= 2
    for check in report.checks.values():
        assert check.tokens == report.tokens and check.other_experts == 0 and check.other_weights == 0
        assert check.source == "experts" and (check.largest or 0.0) < 1e-5
    snapshot = tmp_path / "run" / "snapshots" / "step-00000000.safetensors"
    with safe_open(str(snapshot), "pt") as f:
        meta = f.metadata()
        for key, value in case["metadata"].items():
            assert meta.get(key) == value, (key, meta)
        for block, module in moe.items():
            bias = f"layers.{block}.router.expert_bias"
            if case["bias"] is None:
                assert bias not in f.keys()
            else:
                want = dict([*module.named_parameters(), *module.named_buffers()])[case["bias"]]
                assert torch.equal(f.get_tensor(bias), want.detach().reshape(-1).float())
    problems = route_mismatches(tmp_path / "run", own_routing(model, torch.tensor(list(TEXT.encode()))))
    assert problems == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_without_the_rule_the_model_is_refused(tmp_path: Path, name: str, monkeypatch) -> None:
    case = CASES[name]
    original = capture_check.candidate_keys

    def without(gate: Any, config: Any) -> List[RuleKey]:
        return [key for key in original(gate, config) if not case["uses"](key)]

    monkeypatch.setattr(capture_check, "candidate_keys", without)  # where check_routing finds it
    build(case["model_type"], tmp_path / "model", **case["config"])
    with pytest.raises(ContractError) as refused:
        capture(str(tmp_path / "model"), TEXT, str(tmp_path / "run"), window=WINDOW, batch=2)
    message = str(refused.value)
    assert "no routing rule of the contract reproduces what the model hands its experts" in message, message
    assert "other experts on" in message, message
    assert not (tmp_path / "run").exists()


def test_jetmoe_captures_its_mlp_router_and_says_the_attention_routers_are_left_out(tmp_path: Path) -> None:
    """JetMoe routes both its MLP experts and its attention experts (mixture of attention heads) in every
    block: the MLP experts' router (a bare Linear inside `mlp.router`, whose dispatch sorted by expert is
    read) is captured and checked, and run.json says the attention routers are left out."""
    model = build("jetmoe", tmp_path / "model")
    report = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "run"), window=WINDOW, batch=2)
    assert report.rule == "softmax, gates renormalised, top-2 of 8 experts" and not report.unverified, report.notes
    assert {b: g.name for b, g in report.gates.items()} == {i: f"model.layers.{i}.mlp.router.layer" for i in range(4)}
    for check in report.checks.values():
        assert check.tokens == report.tokens and check.other_experts == 0 and check.source == "gate", check
    note = ("left out: the routers of attention experts (model.layers.0.self_attention.experts.router.layer, in 4 of 4 "
            "blocks); the file contract holds one router per block, so each block's MLP experts' router "
            "(model.layers.0.mlp.router.layer) is the one captured")
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert note in report.notes and note in meta["capture"]["notes"], meta["capture"]["notes"]
    own = own_routing(model, torch.tensor(list(TEXT.encode())))
    assert sorted(own) == [0, 1, 2, 3] and all(e.shape == (report.tokens, 2) for e, _ in own.values())
    assert route_mismatches(tmp_path / "run", own) == []


@pytest.mark.parametrize("model_type,names", [
    ("phimoe", ["model.layers.0.mlp.router: sparse-mixer gating (each chosen expert weighted by a softmax over only "
                "the logits within 2 x 0.01 of its own", "which the contract does not hold"]),
    ("deepseek_v4", ["model.layers.0.mlp.gate: hash-routed layers (blocks 0, 1, 2 take their experts from a table of "
                     "token ids, tid2eid [vocabulary, k], not from the gate) and sqrtsoftplus scores "
                     "(sqrt(softplus(logits)); the contract scores by softmax or sigmoid), which the contract does not "
                     "hold"]),
    ("gemma4_text", ["model.layers.0.router.proj: a per-expert scale of the gate weights (each expert's weights the "
                     "closest rule's times a factor of its own: router.per_expert_scale [E]), which the contract does "
                     "not hold", "closest, softmax, gates renormalised"])])
def test_a_refusal_names_the_mechanism_outside_the_contract(tmp_path: Path, model_type: str, names: List[str]) -> None:
    build(model_type, tmp_path / "model")
    with pytest.raises(ContractError) as refused:
        capture(str(tmp_path / "model"), TEXT, str(tmp_path / "run"), window=WINDOW, batch=2)
    message = str(refused.value)
    assert all(name in message for name in names), message
    assert "no routing rule of the contract reproduces what the model hands its experts; closest, " in message
