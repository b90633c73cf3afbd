"""The reference's gate rules against `idamoe route` (Swift): the IDA gate temperature and prior mass,
sigmoid-bias routers, the gate options of linear gates and per-layer expert counts (docs/format.md,
"Checkpoints").

Each case writes a small checkpoint and probe with make_bench_files (D=16, 200 tokens, 2 MoE layers),
runs `$IDAMOE_BIN route --checkpoint C --probe P --jsonl --posterior` and compares every line with
idamoe_ref (compare_route_lines, the tolerances of test_interop.py). Each case also routes the
reference once more with one rule taken away (T = 1, a zero expert_bias, the default gate options, ...)
and requires that comparison to fail: the probe is one on which a reference ignoring that rule would
be caught. The literal checks at the end need no binary.
"""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import idamoe_ref as ref  # noqa: E402
import make_bench_files as mbf  # noqa: E402

from binary_support import idamoe_binary  # noqa: E402

IDA_SHAPE = dict(d=16, p=4, experts=4, components=3, tokens=200, layers=2, hidden_enc=[8], latent_norm="rms")
GATE_SHAPE = dict(d=16, experts=8, tokens=200, layers=2)
OPTIONS = dict(gate_normalize=False, gate_scale=2.5, expert_groups=4, group_top_k=2)

# name -> (options of make_bench_files.write_files, {what is taken away: Router fields without it})
CASES = {
    "ida_temperature_4": (dict(IDA_SHAPE, router="ida", gate_temperature=4.0, top_k=2, seed=21),
                          {"temperature": dict(gate_temperature=1.0)}),
    # Each expert holds 1/E of the prior; logits spread widely, so a global softmax would weigh experts unevenly.
    # (_gmm=None: the ablated router recomputes its constants rather than keep the per-expert ones.)
    "ida_prior_mass_per_expert": (dict(IDA_SHAPE, router="ida", prior_mass="per-expert", logit_std=1.5, top_k=2,
                                       seed=30),
                                  {"per-expert prior mass": dict(prior_mass="global", _gmm=None)}),
    "sigmoid_bias": (dict(GATE_SHAPE, router="sigmoid-bias", gate_bias=True, top_k=2, seed=22),
                     {"expert_bias": dict(expert_bias=np.zeros(8, np.float32)), "sigmoid": dict(kind="softmax")}),
    "softmax_gate_options": (dict(GATE_SHAPE, router="softmax", gate_bias=True, top_k=3, seed=23, **OPTIONS),
                             {"gate_normalize": dict(gate_normalize=True), "gate_scale": dict(gate_scale=1.0),
                              "expert_groups": dict(expert_groups=1, group_top_k=1)}),
    "sigmoid_bias_gate_options": (dict(GATE_SHAPE, router="sigmoid-bias", top_k=3, seed=24, **OPTIONS),
                                  {"gate_normalize": dict(gate_normalize=True), "gate_scale": dict(gate_scale=1.0),
                                   "expert_groups": dict(expert_groups=1, group_top_k=1),
                                   "expert_bias": dict(expert_bias=np.zeros(8, np.float32))}),
    # DeepSeek-V2's group-limited greedy: a group scores its best expert; unrenormalised, scaled gates.
    "softmax_group_score_max": (dict(GATE_SHAPE, router="softmax", top_k=2, seed=27, gate_normalize=False, gate_scale=2.5,
                                     expert_groups=4, group_top_k=2, group_score="max"),
                                {"group_score": dict(group_score="top2sum")}),
    # Ernie 4.5: a softmax router choosing by probability + expert_bias.
    "softmax_expert_bias": (dict(GATE_SHAPE, router="softmax", top_k=2, seed=28, softmax_expert_bias=True,
                                 expert_bias_std=0.1),
                            {"expert_bias": dict(expert_bias=None)}),
    # Kolibri: a sigmoid router choosing by logit + expert_bias.
    "sigmoid_bias_on_logits": (dict(GATE_SHAPE, router="sigmoid-bias", top_k=2, seed=29, selection_bias_on="logits",
                                    expert_bias_std=1.0),
                               {"selection_bias_on": dict(selection_bias_on="scores"),
                                "expert_bias": dict(expert_bias=np.zeros(8, np.float32))}),
}


@pytest.fixture(scope="module")
def idamoe():
    return idamoe_binary()


def route_jsonl(binary, ck_path, probe_path):
    proc = subprocess.run([binary, "route", "--checkpoint", ck_path, "--probe", probe_path, "--jsonl", "--posterior"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr: {proc.stderr.strip()}"
    return proc.stdout.splitlines()


def without(ck, probe, layers, changes):
    """The reference's routes with each router's fields replaced by `changes` (a rule taken away)."""
    out = {}
    for i in layers:
        router = dataclasses.replace(ck.routers[i], **changes)
        out[i] = ref.route_layer(router, probe, reconstruct=False, block_size=64)
    return out


def check_case(binary, ck_path, probe_path, ablations):
    lines = route_jsonl(binary, ck_path, probe_path)
    layers, results, ck, probe = ref.reference_routes(ck_path, probe_path)
    problems = ref.compare_route_lines(lines, layers, results, ck, probe, posterior=True)
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems)
    for rule, changes in ablations.items():
        missed = ref.compare_route_lines(lines, layers, without(ck, probe, layers, changes), ck, probe, posterior=True)
        assert missed, f"a reference without {rule} agrees with idamoe too: the probe does not test it"


@pytest.mark.parametrize("case", list(CASES))
def test_jsonl_posterior_matches_reference(idamoe, tmp_path, case):
    opts, ablations = CASES[case]
    ck_path, probe_path = mbf.write_files(str(tmp_path), **opts)
    check_case(idamoe, ck_path, probe_path, ablations)


@pytest.mark.parametrize("router", ["ida", "softmax", "sigmoid-bias"])
def test_layer_experts_match_reference(idamoe, tmp_path, router):
    """`idamoe.layer_experts` 8,4: block 0 has 8 experts, block 1 has 4 (with groups of 1 expert each when
    the gate options split 4 experts into 4 groups)."""
    shape = IDA_SHAPE if router == "ida" else GATE_SHAPE
    gate = {} if router == "ida" else dict(OPTIONS, gate_bias=True)
    opts = dict(shape, experts=8, router=router, top_k=2, seed=25, **gate)
    ck_path, probe_path = mbf.write_files(str(tmp_path), **opts)
    probe = ref.load_probe(probe_path)
    hidden = {i: probe.hidden(i) for i in (0, 1)}
    keep = ("d", "p", "components", "hidden_enc", "latent_norm")
    small, _ = mbf.make_checkpoint(**{k: v for k, v in shape.items() if k in keep}, experts=4, layers=(0, 1),
                                   router=router, top_k=2, seed=26, probe_hidden=hidden, gate_bias=True)
    big = ref.SafetensorsFile(ck_path)
    tensors = {name: big.array(name) for name in big.tensors if not name.startswith("layers.1.")}
    tensors.update({name: t for name, t in small.items() if name.startswith("layers.1.")})
    meta = dict(big.metadata, **{"idamoe.layer_experts": "8,4"})
    mixed = str(tmp_path / "mixed.safetensors")
    save_file(tensors, mixed, metadata=meta)
    check_case(idamoe, mixed, probe_path, {})
    assert ref.load_checkpoint(mixed).routers[1].experts == 4


# ----------------------------------------------------------------------------------------------
# the rules on literal numbers (no binary)

def test_tempered_weights_literal():
    selected = np.array([[0.8, 0.2], [0.5, 0.5], [0.6, 0.0]])
    w = ref.tempered_weights(selected, 4.0)
    a, b = 0.8 ** 0.25, 0.2 ** 0.25
    np.testing.assert_allclose(w[0], [a / (a + b), b / (a + b)], rtol=1e-12)
    np.testing.assert_allclose(w[1], [0.5, 0.5], rtol=1e-12)
    np.testing.assert_array_equal(w[2], [1.0, 0.0])  # a zero score weighs 0
    np.testing.assert_allclose(ref.tempered_weights(selected[:1], 1.0), [[0.8, 0.2]], rtol=1e-12)


def test_group_limited_top_k_literal():
    # E = 8 in G = 4 groups of 2: group scores (best two summed) 0.9+0.1, 0.5+0.45, 0.8+0.05, 0.3+0.3.
    sel = np.array([[0.9, 0.1, 0.5, 0.45, 0.8, 0.05, 0.3, 0.3]])
    # Kept groups 0 (1.0) and 1 (0.95); expert 4 (0.8, group 2) is the second best overall but dropped.
    assert ref.group_limited_top_k(sel, 3, 4, 2).tolist() == [[0, 2, 3]]
    assert ref.group_limited_top_k(sel, 3, 4, 4).tolist() == [[0, 4, 2]]  # every group kept: plain top-k
    # Tied groups go to the lower group; groups of one expert score that expert.
    tied = np.array([[0.2, 0.3, 0.3, 0.2]])
    assert ref.group_limited_top_k(tied, 2, 2, 1).tolist() == [[1, 0]]
    assert ref.group_limited_top_k(tied, 2, 4, 2).tolist() == [[1, 2]]
    # A group scored by its best member (DeepSeek-V2): groups 0 (0.9) and 2 (0.8) kept, not group 1 (0.95 summed).
    assert ref.group_limited_top_k(sel, 3, 4, 2, "max").tolist() == [[0, 4, 1]]
