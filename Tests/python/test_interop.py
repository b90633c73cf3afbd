"""Interoperability: `idamoe route` (Swift) against the numpy reference idamoe_ref.

Writes tiny checkpoints and probes with make_bench_files (D=16, P=4, E=4, M=3, 200 tokens, 2 MoE
layers; IDA routers with every activation, both expert scores, both input norms, RMS-normalised
latents, F32 and F16
probes, and softmax routers with and without a gate bias), runs

    $IDAMOE_BIN route --checkpoint C --probe P --jsonl --posterior

and compares every line with idamoe_ref. The binary is $IDAMOE_BIN, default .build/debug/idamoe
under the repository root. Without it the module is skipped, unless CI=true, where it fails.

Tolerances: experts must match, except that positions whose reference expert scores are within
1e-5 relative (1e-12 absolute) may hold either expert; weights, log_density, entropy_bits and
posterior must agree within 1e-4 relative or 1e-6 absolute.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import idamoe_ref as ref  # noqa: E402
import make_bench_files as mbf  # noqa: E402

from binary_support import idamoe_binary  # noqa: E402

BIN = Path(idamoe_binary())

SHAPE = dict(d=16, p=4, experts=4, components=3, tokens=200, layers=2)

# name -> options of make_bench_files.write_files
CASES = {
    "ida": dict(router="ida", hidden_enc=[8], activation="gelu", expert_score="max", input_norm="rms",
                dtype="F32", top_k=2, seed=1),
    "ida_sum_f16_deep": dict(router="ida", hidden_enc=[8, 6], activation="gelu_tanh", expert_score="sum",
                             input_norm="none", dtype="F16", top_k=3, seed=2),
    "ida_relu_top1": dict(router="ida", hidden_enc=[8], activation="relu", expert_score="max", input_norm="rms",
                          dtype="F32", top_k=1, seed=3),
    "ida_silu_linear_encoder": dict(router="ida", hidden_enc=[], activation="silu", expert_score="sum",
                                    input_norm="rms", dtype="F32", top_k=2, seed=4),
    "ida_tanh_f16": dict(router="ida", hidden_enc=[8], activation="tanh", expert_score="max", input_norm="none",
                         dtype="F16", top_k=2, seed=5),
    "ida_latent_rms": dict(router="ida", hidden_enc=[8], activation="gelu", expert_score="max", input_norm="rms",
                           latent_norm="rms", dtype="F32", top_k=2, seed=8),
    "softmax_bias": dict(router="softmax", gate_bias=True, dtype="F32", top_k=2, seed=6),
    "softmax_f16_top1": dict(router="softmax", gate_bias=False, dtype="F16", top_k=1, seed=7),
}


@pytest.fixture(scope="module")
def idamoe():
    return str(BIN)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("interop")
    made = {}
    for name, opts in CASES.items():
        made[name] = mbf.write_files(str(root / name), **SHAPE, **opts)
    return made


def run(binary, *args, timeout=300):
    return subprocess.run([binary, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("case", list(CASES))
def test_jsonl_posterior_matches_reference(idamoe, files, case):
    ck_path, probe_path = files[case]
    proc = run(idamoe, "route", "--checkpoint", ck_path, "--probe", probe_path, "--jsonl", "--posterior")
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr: {proc.stderr.strip()}"
    layers, results, ck, probe = ref.reference_routes(ck_path, probe_path)
    problems = ref.compare_route_lines(proc.stdout.splitlines(), layers, results, ck, probe, posterior=True)
    assert not problems, f"{case}: {len(problems)} disagreement(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("case", ["ida", "softmax_bias"])
def test_layer_and_top_k_options(idamoe, files, case):
    ck_path, probe_path = files[case]
    proc = run(idamoe, "route", "--checkpoint", ck_path, "--probe", probe_path, "--jsonl",
               "--layer", "1", "--top-k", "3")
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr: {proc.stderr.strip()}"
    layers, results, ck, probe = ref.reference_routes(ck_path, probe_path, layer=1, top_k=3)
    problems = ref.compare_route_lines(proc.stdout.splitlines(), layers, results, ck, probe, posterior=False, top_k=3)
    assert not problems, f"{case} --layer 1 --top-k 3: {len(problems)} disagreement(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("case", ["ida", "softmax_bias"])
def test_table_output(idamoe, files, case):
    ck_path, probe_path = files[case]
    proc = run(idamoe, "route", "--checkpoint", ck_path, "--probe", probe_path)
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr: {proc.stderr.strip()}"
    assert proc.stdout.strip(), "the table is empty"
    # One row per MoE layer, starting with the layer index.
    rows = [line.split() for line in proc.stdout.splitlines()]
    for i in (0, 1):
        assert any(r and r[0] == str(i) for r in rows), f"no table row for layer {i}:\n{proc.stdout}"
    # The three CVs of each row (top-1, top-k, gate-weighted load over the probe) match the reference.
    layers, results, ck, probe = ref.reference_routes(ck_path, probe_path)
    for i in layers:
        e = ck.routers[i].experts
        m = ref.layer_metrics(results[i], e)
        row = next(r for r in rows if r and r[0] == str(i))
        got = [float(v) for v in row[1:4]]
        want = [m["cv_top1"], m["cv"], m["cv_gate"]]
        assert all(abs(g - w) <= 0.0015 for g, w in zip(got, want)), f"layer {i}: CVs {got}, reference {want}"


@pytest.mark.parametrize("case", ["ida", "softmax_bias"])
def test_json_figures_match_the_reference(idamoe, files, case):
    """route --json: each layer's loads, CVs, MaxVios (largest load over the mean, minus 1) and load
    quantiles (numpy's linear interpolation), and their quantiles across layers, as the reference computes them."""
    import json

    import numpy as np

    from idamoe_torch.heldout import quantiles

    ck_path, probe_path = files[case]
    proc = run(idamoe, "route", "--checkpoint", ck_path, "--probe", probe_path, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    layers, results, ck, probe = ref.reference_routes(ck_path, probe_path)
    qs = [0.5, 0.9, 0.99, 1.0]
    vios = []
    for got, i in zip(doc["layers"], layers):
        m = ref.layer_metrics(results[i], ck.routers[i].experts)
        assert got["layer"] == i and got["tokens"] == probe.count
        for key, load in (("top1", m["load_top1"]), ("topk", m["load"]), ("gate", m["load_gate"])):
            np.testing.assert_allclose(got["load"][key], load, atol=2e-6)
            assert abs(got["max_vio"][key] - (load.max() / load.mean() - 1)) < 2e-5
        assert abs(got["cv"]["topk"] - m["cv"]) < 2e-5
        want = np.quantile(np.asarray(got["load"]["topk"]), qs)
        np.testing.assert_allclose([got["load_quantiles"][k] for k in ("p50", "p90", "p99", "max")], want, rtol=1e-12)
        # The events' Python rule is Swift's to the bit: the same operations on the same doubles.
        assert quantiles(got["load"]["topk"], qs) == [got["load_quantiles"][k] for k in ("p50", "p90", "p99", "max")]
        vios.append(got["max_vio"]["topk"])
    across = doc["across_layers"]["max_vio_topk"]
    np.testing.assert_allclose([across[k] for k in ("p50", "p90", "p99", "max")], np.quantile(vios, qs), rtol=1e-12)


def test_wrong_hidden_width_is_one_line_error(idamoe, files, tmp_path):
    ck_path, _ = files["ida"]
    _, bad_probe = mbf.write_files(str(tmp_path), **{**SHAPE, "layers": 1}, probe_d=SHAPE["d"] + 1,
                                   checkpoint_name="unused.safetensors", probe_name="wide-probe.safetensors")
    proc = run(idamoe, "route", "--checkpoint", ck_path, "--probe", bad_probe)
    assert proc.returncode == 1, f"exit {proc.returncode}, expected 1; stderr: {proc.stderr!r}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {proc.stderr!r}"
    assert "layers.0.hidden" in lines[0], f"stderr does not name the tensor layers.0.hidden: {lines[0]!r}"
    assert proc.stdout == "", f"nothing should reach stdout: {proc.stdout[:200]!r}"
