"""Checks of the Python side alone (no Swift binary needed): idamoe_ref against scikit-learn and
first principles, the benchmark peer route_numpy.py against idamoe_ref, and the GMM fixture."""
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import idamoe_ref as ref  # noqa: E402
import make_bench_files as mbf  # noqa: E402
import make_gmm_reference as mgr  # noqa: E402

SHAPE = dict(d=16, p=4, experts=4, components=3, tokens=200, layers=2)


def test_gmm_matches_sklearn_on_extreme_case():
    z, logits, means, log_vars, _ = mgr.build()
    want_lp, want_post = mgr.sklearn_reference(z, logits, means, log_vars)
    lp, post = ref.gmm_log_prob(z, logits, means, log_vars)
    assert np.all(np.abs(lp - want_lp) <= 1e-9 * np.maximum(np.abs(want_lp), 1))
    assert np.all(np.abs(post - want_post) <= 1e-9 * np.abs(want_post) + 1e-300)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-12)


def test_gmm_matches_direct_formula_on_ordinary_points():
    rng = np.random.default_rng(3)
    k, p = 10, 5
    logits, means, log_vars = rng.normal(size=k), rng.normal(size=(k, p)), rng.normal(0, 0.5, (k, p))
    z = rng.normal(size=(50, p))
    s = np.clip(log_vars, -0.6, 0.6)
    direct = (logits - np.log(np.exp(logits).sum()))[None, :] - 0.5 * np.sum(
        (z[:, None, :] - means[None]) ** 2 * np.exp(-s)[None] + s[None] + math.log(2 * math.pi), axis=2)
    lp, post = ref.gmm_log_prob(z, logits, means, log_vars, -0.6, 0.6)
    want = np.log(np.exp(direct).sum(axis=1))
    np.testing.assert_allclose(lp, want, rtol=1e-11)
    np.testing.assert_allclose(post, np.exp(direct - want[:, None]), rtol=1e-9, atol=1e-15)


def test_activations():
    u = np.linspace(-6, 6, 101).astype(np.float32)
    erf = np.array([math.erf(v / math.sqrt(2)) for v in u.astype(np.float64)])
    np.testing.assert_allclose(ref.activation("gelu", u), 0.5 * u * (1 + erf), rtol=1e-6, atol=1e-7)
    t = np.tanh(math.sqrt(2 / math.pi) * (u.astype(np.float64) + 0.044715 * u.astype(np.float64) ** 3))
    # float32 1 + tanh(.) cancels for u << 0 (as in PyTorch; Swift computes u sigmoid(2k) instead): absolute error ~ |u| eps.
    np.testing.assert_allclose(ref.activation("gelu_tanh", u), 0.5 * u * (1 + t), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ref.activation("silu", u), u / (1 + np.exp(-u.astype(np.float64))), rtol=1e-6)
    np.testing.assert_array_equal(ref.activation("relu", u), np.maximum(u, 0))
    for name in ref.ACTIVATIONS:
        assert ref.activation(name, u).dtype == np.float32


def test_top_k_ties_go_to_lower_index():
    scores = np.array([[0.2, 0.3, 0.3, 0.2], [0.25, 0.25, 0.25, 0.25]])
    idx, w = ref._top_k(scores, 3)
    assert idx.tolist() == [[1, 2, 0], [0, 1, 2]]
    np.testing.assert_allclose(w.sum(axis=1), 1.0)


def test_route_layer_is_blockwise_invariant_and_consistent(tmp_path):
    ck_path, probe_path = mbf.write_files(str(tmp_path), **SHAPE, hidden_enc=[8], seed=11)
    ck, probe = ref.load_checkpoint(ck_path), ref.load_probe(probe_path)
    router = ck.routers[1]
    a = ref.route_layer(router, probe, block_size=7)
    b = ref.route_layer(router, probe.hidden(1), block_size=4096)
    # float32 GEMMs round differently for different block shapes: equal up to ~1e-6 relative.
    assert np.mean(np.all(a["experts"] == b["experts"], axis=1)) >= 0.99
    for key in ("log_density", "entropy_bits", "posterior", "z", "xhat"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert a["xhat"].shape == (SHAPE["tokens"], SHAPE["d"]) and a["z"].shape == (SHAPE["tokens"], SHAPE["p"])
    n, e, m = SHAPE["tokens"], SHAPE["experts"], SHAPE["components"]
    q = a["posterior"].reshape(n, e, m).sum(axis=2)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(a["entropy_bits"], ref.entropy_bits(q))
    np.testing.assert_allclose(a["weights"].sum(axis=1), 1.0, rtol=1e-12)
    metrics = ref.layer_metrics(a, e, e * m, router.priors)
    assert abs(metrics["load"].sum() - 1) < 1e-12 and metrics["nll"] == pytest.approx(-a["log_density"].mean())


def test_bf16_hidden_states_are_read(tmp_path):
    values = np.array([[1.0, -2.5, 0.15625], [3.0e38, 1e-3, -0.0]], dtype=np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)  # truncation; the values above are exact
    header = json.dumps({"x": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, bf16.nbytes]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bf16.tobytes())
    got = ref.SafetensorsFile(str(path)).rows("x", 0, 2)
    want = (bf16.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(got, want)


def _route_numpy(*args):
    return subprocess.run([sys.executable, str(HERE / "route_numpy.py"), *args], capture_output=True, text=True,
                          timeout=300)


GATE_OPTIONS = dict(gate_normalize=False, gate_scale=2.5, expert_groups=2, group_top_k=1)


@pytest.mark.parametrize("router, gate", [("ida", dict(gate_temperature=4.0)), ("softmax", {}),
                                          ("sigmoid-bias", GATE_OPTIONS)], ids=["ida", "softmax", "sigmoid-bias"])
def test_route_numpy_jsonl_matches_reference(tmp_path, router, gate):
    ck_path, probe_path = mbf.write_files(str(tmp_path), **SHAPE, hidden_enc=[8], router=router, seed=5,
                                          gate_bias=True, dtype="F16", **gate)
    proc = _route_numpy("--checkpoint", ck_path, "--probe", probe_path, "--jsonl", "--posterior",
                        "--block-size", "33", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    layers, results, ck, probe = ref.reference_routes(ck_path, probe_path)
    problems = ref.compare_route_lines(proc.stdout.splitlines(), layers, results, ck, probe, posterior=True)
    assert not problems, "\n".join(problems)
    table = _route_numpy("--checkpoint", ck_path, "--probe", probe_path)
    assert table.returncode == 0 and len(table.stdout.splitlines()) == 4 + SHAPE["layers"] + (SHAPE["layers"] > 1), table.stdout


def test_route_numpy_wrong_width_is_one_line_error(tmp_path):
    ck_path, _ = mbf.write_files(str(tmp_path), **SHAPE, hidden_enc=[8])
    _, bad = mbf.write_files(str(tmp_path), **SHAPE, probe_d=SHAPE["d"] + 1, checkpoint_name="unused.safetensors",
                             probe_name="wide.safetensors")
    proc = _route_numpy("--checkpoint", ck_path, "--probe", bad)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "layers.0.hidden" in proc.stderr


def test_gmm_fixture_is_current():
    path = REPO / "fixtures" / "gmm_reference.safetensors"
    assert path.exists(), f"{path} missing: write it with python3 Tests/python/make_gmm_reference.py --out {path}"
    f = ref.SafetensorsFile(str(path))
    z, logits, means, log_vars = (f.array(n) for n in ("z", "logits", "means", "log_vars"))
    want_lp, want_post = mgr.sklearn_reference(z, logits, means, log_vars)
    np.testing.assert_allclose(f.array("expected_log_prob"), want_lp, rtol=1e-12)
    np.testing.assert_allclose(f.array("expected_posterior"), want_post, rtol=1e-12, atol=1e-300)
