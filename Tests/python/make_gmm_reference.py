#!/usr/bin/env python3
"""Writes the scikit-learn reference for the diagonal-GMM density (fixtures/gmm_reference.safetensors).

    python3 Tests/python/make_gmm_reference.py --out fixtures/gmm_reference.safetensors

One small case: P = 3 latent dimensions, K = 6 components, N = 40 points. Tensors (all F64, but every
input value is exactly representable in float32, so a float32 pipeline reads the same numbers):
  z [N, P], logits [K], means [K, P], log_vars [K, P]        inputs (no log-variance clamp)
  expected_log_prob [N]       GaussianMixture.score_samples(z)   = log p(z)
  expected_posterior [N, K]   GaussianMixture.predict_proba(z)   = p(k | z)
The sklearn model is GaussianMixture(covariance_type="diag") with weights_ = softmax(logits),
means_ = means, covariances_ = exp(log_vars), precisions_cholesky_ = 1 / sqrt(covariances_) set
directly (no fitting). Metadata `gmm.regions` (JSON) names the row range [start, end) of each kind
of point and `gmm.components` (JSON) describes each component.

The script checks that idamoe_ref.gmm_log_prob agrees with scikit-learn to 1e-9 relative and exits 1
otherwise.
"""
import argparse
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idamoe_ref as ref  # noqa: E402

P, K = 3, 6
COMPONENTS = [
    "0: dominant, prior ~0.97, log_var ~0",
    "1: tiny variance, log_var ~-12 (all dimensions)",
    "2: huge variance, log_var ~+8 (all dimensions)",
    "3: ordinary, log_var ~-1..0.5",
    "4: ordinary, log_var ~-0.5..1 (anisotropic)",
    "5: ordinary, rare, log_var ~0",
]


def f32(a):
    """Rounds to float32 and widens back, so the F64 fixture is exactly float32-representable."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def build():
    rng = np.random.default_rng(20240611)
    means = f32([[0.0, 0.0, 0.0],
                 [1.25, -0.75, 0.5],
                 [-2.0, 3.0, 1.0],
                 [3.0, 3.0, -3.0],
                 [-3.5, -2.5, 2.0],
                 [5.0, -4.0, -1.5]])
    log_vars = f32([[0.1, -0.2, 0.05],
                    [-12.0, -12.25, -11.75],
                    [8.0, 7.75, 8.25],
                    [-1.0, 0.5, -0.25],
                    [1.0, -0.5, 0.25],
                    [0.0, 0.0, 0.0]])
    # softmax(logits)[0] ~ 0.97: the other five share ~0.03.
    logits = f32([5.0625, 0.25, -0.5, 0.0, 0.5, -1.0])
    regions = []
    rows = []

    def region(name, pts):
        start = sum(len(r) for r in rows)
        pts = f32(np.atleast_2d(pts))
        rows.append(pts)
        regions.append({"name": name, "start": start, "end": start + len(pts)})

    # Ordinary points: around each ordinary/dominant mean and in between.
    ordinary = []
    for c in (0, 3, 4, 5):
        std = np.exp(0.5 * log_vars[c])
        ordinary.append(means[c] + rng.standard_normal((3, P)) * std)
    ordinary.append(rng.uniform(-4, 4, (4, P)))
    region("ordinary: near the means of components 0, 3, 4, 5 and uniform in [-4, 4]^3", np.vstack(ordinary))
    region("exactly at each component mean (rows in component order 0..5)", means)
    # Close to the tiny-variance component: offsets of a few standard deviations (e^-6 ~ 2.5e-3).
    tiny_std = np.exp(0.5 * log_vars[1])
    region("near the tiny-variance component 1 (offsets of 0.5 to 8 of its standard deviations)",
           means[1] + np.array([[0.5, 0, 0], [0, -2, 0], [1, 1, 1], [0, 0, 8]]) * tiny_std)
    # Far away: |z| ~ 1e3, in several directions.
    region("far away (|z| ~ 1e3)",
           np.array([[1000.0, 0, 0], [-1000.0, 0, 0], [0, 1500.0, -250.0], [-700.0, -700.0, 700.0],
                     [1234.5, -987.25, 3.0], [1.25e3, 1.25e3, 1.25e3]]))
    region("inside the huge-variance component 2 but far from the others (|z| ~ 30..80)",
           means[2] + np.array([[30.0, 0, 0], [0, -45.0, 10.0], [60.0, 50.0, -20.0], [-25.0, -25.0, -25.0]]))
    region("midpoints between pairs of means",
           np.array([(means[0] + means[3]) / 2, (means[3] + means[4]) / 2, (means[1] + means[5]) / 2,
                     (means[0] + means[1]) / 2]))
    z = np.vstack(rows)
    return z, logits, means, log_vars, regions


def sklearn_reference(z, logits, means, log_vars):
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=K, covariance_type="diag")
    w = np.exp(logits - logits.max())
    gm.weights_ = w / w.sum()
    gm.means_ = means.copy()
    gm.covariances_ = np.exp(log_vars)
    gm.precisions_cholesky_ = 1.0 / np.sqrt(gm.covariances_)
    gm.precisions_ = gm.precisions_cholesky_ ** 2
    gm.n_features_in_ = P
    gm.converged_ = True
    gm.n_iter_ = 0
    gm.lower_bound_ = 0.0
    return gm.score_samples(z), gm.predict_proba(z)


def relative_error(a, b, floor=0.0):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), floor))) if a.size else 0.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write the scikit-learn diagonal-GMM reference fixture.")
    ap.add_argument("--out", required=True, help="output .safetensors path (fixtures/gmm_reference.safetensors)")
    args = ap.parse_args(argv)
    z, logits, means, log_vars, regions = build()
    log_prob, posterior = sklearn_reference(z, logits, means, log_vars)
    mine_lp, mine_post = ref.gmm_log_prob(z, logits, means, log_vars)
    # log p: relative to max(|ref|, 1); posteriors: relative where >= 1e-300, absolute below.
    err_lp = relative_error(mine_lp, log_prob, 1.0)
    err_post = relative_error(mine_post, posterior, 1e-300)
    print(f"N={z.shape[0]} P={P} K={K}; priors={np.round(np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum(), 4).tolist()}")
    print(f"log_prob range [{log_prob.min():.6g}, {log_prob.max():.6g}]")
    print(f"idamoe_ref vs sklearn: max relative error log_prob {err_lp:.3g}, posterior {err_post:.3g}")
    if not (np.all(np.isfinite(log_prob)) and np.all(np.isfinite(posterior))):
        print("error: sklearn reference is not finite", file=sys.stderr)
        return 1
    if err_lp > 1e-9 or err_post > 1e-9:
        print("error: idamoe_ref disagrees with scikit-learn beyond 1e-9 relative", file=sys.stderr)
        return 1
    import sklearn
    meta = {
        "idamoe.format": "1",
        "gmm.case": "P=3, K=6, no log-variance clamp; inputs exactly representable in float32",
        "gmm.regions": json.dumps(regions),
        "gmm.components": json.dumps(COMPONENTS),
        "gmm.reference": f"scikit-learn {sklearn.__version__} GaussianMixture(covariance_type='diag'): "
                         "expected_log_prob = score_samples, expected_posterior = predict_proba",
        "gmm.generator": "Tests/python/make_gmm_reference.py",
    }
    tensors = {
        "z": np.ascontiguousarray(z), "logits": logits, "means": means, "log_vars": log_vars,
        "expected_log_prob": np.ascontiguousarray(log_prob, dtype=np.float64),
        "expected_posterior": np.ascontiguousarray(posterior, dtype=np.float64),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    for r in regions:
        print(f"  rows {r['start']:2d}..{r['end'] - 1:2d}: {r['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
