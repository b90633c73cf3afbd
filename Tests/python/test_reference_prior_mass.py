"""The reference's prior mass (`idamoe.prior_mass`, IDA routers): `global` normalises the mixture's prior
over all K components, `per-expert` within each expert's M so every expert holds 1/E of it
(log pi_k = a_k - logsumexp over k's expert - log E). Checked against direct numpy arithmetic on
literal and random numbers and on a written checkpoint; unknown values and the key on a linear-gate
router are refused naming the key. No binary needed (test_reference_gates.py compares with `idamoe route`).
"""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import idamoe_ref as ref  # noqa: E402
import make_bench_files as mbf  # noqa: E402

SHAPE = dict(d=16, p=4, experts=4, components=3, tokens=200, layers=2, hidden_enc=[8])


def direct_log_priors(a: np.ndarray, experts: int) -> np.ndarray:
    """log pi by the definition, one expert at a time: (1/E) exp(a_k) / sum over k's expert of exp(a_j)."""
    a = a.astype(np.float64)
    m = a.shape[0] // experts
    out = np.empty_like(a)
    for e in range(experts):
        block = a[e * m:(e + 1) * m]
        out[e * m:(e + 1) * m] = np.log(np.exp(block) / np.exp(block).sum() / experts)
    return out


def direct_log_joint(z, a, means, log_vars, experts, lo, hi):
    """log p(z, k) [N, K] term by term (no expansion of the square)."""
    s = np.clip(log_vars.astype(np.float64), lo, hi)
    diff = z.astype(np.float64)[:, None, :] - means.astype(np.float64)[None]
    return direct_log_priors(a, experts)[None] - 0.5 * np.sum(diff ** 2 * np.exp(-s)[None] + s[None] + math.log(2 * math.pi),
                                                             axis=2)


def test_grouped_priors_literal():
    a = np.array([0.0, math.log(3.0), 1.0, 1.0])
    np.testing.assert_allclose(np.exp(ref.grouped_log_priors(a, 2)), [0.125, 0.375, 0.25, 0.25], rtol=1e-15)
    np.testing.assert_allclose(np.exp(ref.grouped_log_priors(a, 1)), np.exp(a) / np.exp(a).sum(), rtol=1e-15)
    with pytest.raises(ValueError, match="divide the 4 components"):
        ref.grouped_log_priors(a, 3)


def test_grouped_priors_random():
    rng = np.random.default_rng(4)
    for experts, m in ((1, 5), (3, 4), (8, 1), (6, 7)):
        a = rng.normal(0.0, 3.0, experts * m)
        got = ref.grouped_log_priors(a, experts)
        np.testing.assert_allclose(got, direct_log_priors(a, experts), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.exp(got).reshape(experts, m).sum(axis=1), 1.0 / experts, rtol=1e-12)


def test_per_expert_checkpoint_routes_with_grouped_priors(tmp_path):
    ck_path, probe_path = mbf.write_files(str(tmp_path), **SHAPE, prior_mass="per-expert", logit_std=1.5, seed=31)
    ck, probe = ref.load_checkpoint(ck_path), ref.load_probe(probe_path)
    for i, router in ck.routers.items():
        e, m = router.experts, router.components_per_expert
        assert router.prior_mass == "per-expert" and router.prior_groups == e
        np.testing.assert_allclose(router.priors.reshape(e, m).sum(axis=1), 1.0 / e, rtol=1e-12)
        got = ref.route_layer(router, probe, block_size=64)
        lj = direct_log_joint(got["z"], router.logits, router.means, router.log_vars, e, router.log_var_min,
                              router.log_var_max)
        top = lj.max(axis=1)
        want_ld = top + np.log(np.exp(lj - top[:, None]).sum(axis=1))
        np.testing.assert_allclose(got["log_density"], want_ld, rtol=1e-9)
        np.testing.assert_allclose(got["posterior"], np.exp(lj - want_ld[:, None]), rtol=1e-7, atol=1e-12)
        # The probe tells the two prior masses apart: a global prior would give other densities.
        glob = ref.gmm_log_prob(got["z"], router.logits, router.means, router.log_vars, router.log_var_min,
                                router.log_var_max)[0]
        assert np.max(np.abs(glob - got["log_density"])) > 0.05, f"layer {i}: the prior mass changes nothing here"


def test_absent_prior_mass_is_global(tmp_path):
    ck_path, _ = mbf.write_files(str(tmp_path), **SHAPE, logit_std=1.5, seed=32)
    router = ref.load_checkpoint(ck_path).routers[0]
    a = router.logits.astype(np.float64)
    assert router.prior_mass == "global" and router.prior_groups == 1
    np.testing.assert_allclose(router.priors, np.exp(a) / np.exp(a).sum(), rtol=1e-12)


@pytest.mark.parametrize("router, value, needle", [
    ("ida", "bogus", "unknown value 'bogus' (global, per-expert)"),
    ("ida", "per_expert", "unknown value 'per_expert' (global, per-expert)"),
    ("softmax", "global", "applies to ida routers only"),
])
def test_bad_prior_mass_is_refused(tmp_path, router, value, needle):
    tensors, meta = mbf.make_checkpoint(16, p=4, experts=4, components=2, hidden_enc=(8,), router=router, seed=3)
    meta["idamoe.prior_mass"] = value
    path = str(tmp_path / "checkpoint.safetensors")
    save_file(tensors, path, metadata=meta)
    with pytest.raises(ref.RefError) as err:
        ref.load_checkpoint(path)
    text = str(err.value)
    assert "\n" not in text and "idamoe.prior_mass" in text and needle in text and path in text, text
