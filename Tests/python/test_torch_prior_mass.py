"""The prior mass of DiagonalMixture (python/idamoe_torch/mixture.py): G prior groups of K/G contiguous
components, log pi_k = a_k - logsumexp over k's group - log G (G = 1: the global softmax, unchanged;
G = E: every expert holds 1/E of the prior). The priors, log p(z, k) against a term-by-term computation,
and the gradient of the NLL against its closed form and finite differences (gradcheck). No binary.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from idamoe_torch.mixture import DiagonalMixture, grouped_log_priors, group_mean_logits

E, M, P, N = 4, 3, 5, 64


def mixture(groups: int, seed: int = 0, spread: float = 3.0) -> DiagonalMixture:
    """A float64 mixture of E*M components with widely spread logits and log-variances inside the clamp."""
    torch.manual_seed(seed)
    gmm = DiagonalMixture(E * M, P, -6.0, 6.0, prior_groups=groups).double()
    with torch.no_grad():
        gmm.logits.copy_(torch.randn(E * M, dtype=torch.float64) * spread)
        gmm.means.copy_(torch.randn(E * M, P, dtype=torch.float64))
        gmm.log_vars.copy_(torch.randn(E * M, P, dtype=torch.float64) * 0.4)
    return gmm


def direct_log_priors(a: torch.Tensor, groups: int) -> torch.Tensor:
    """log of (1/G) exp(a_k) / sum over k's group of exp(a_j), one group at a time."""
    size = a.shape[0] // groups
    parts = [torch.log(torch.exp(a[g * size:(g + 1) * size]) / torch.exp(a[g * size:(g + 1) * size]).sum() / groups)
             for g in range(groups)]
    return torch.cat(parts)


def direct_log_joint(gmm: DiagonalMixture, z: torch.Tensor) -> torch.Tensor:
    """log p(z, k) [N, K] with the square written out (no expansion)."""
    s = gmm.log_vars.detach().clamp(gmm.log_var_min, gmm.log_var_max)
    diff = z[:, None, :] - gmm.means.detach()[None]
    quad = (diff.pow(2) * torch.exp(-s)[None] + s[None] + math.log(2 * math.pi)).sum(dim=2)
    return direct_log_priors(gmm.logits.detach(), gmm.prior_groups)[None] - 0.5 * quad


def test_per_expert_priors_give_each_expert_one_over_e() -> None:
    for seed in range(5):
        gmm = mixture(E, seed)
        pi = gmm.priors()
        assert pi.dtype == torch.float64 and not pi.requires_grad
        assert float(pi.sum()) == pytest.approx(1.0, abs=1e-14)
        torch.testing.assert_close(pi.reshape(E, M).sum(dim=1), torch.full((E,), 1.0 / E, dtype=torch.float64),
                                   rtol=0, atol=1e-15)
        torch.testing.assert_close(pi, torch.exp(direct_log_priors(gmm.logits.detach(), E)), rtol=1e-13, atol=0)
        torch.testing.assert_close(torch.exp(gmm.log_priors().detach()), pi, rtol=1e-13, atol=0)
        # The logits are spread widely: a global softmax would not share the mass evenly.
        glob = torch.softmax(gmm.logits.detach(), dim=0).reshape(E, M).sum(dim=1)
        assert float((glob - 1.0 / E).abs().max()) > 0.05


def test_one_group_is_the_global_softmax() -> None:
    gmm = mixture(1, seed=2)
    a = gmm.logits.detach()
    assert torch.equal(gmm.priors(), torch.softmax(a, dim=0))
    assert torch.equal(gmm.log_priors().detach(), torch.log_softmax(a, dim=0))
    assert torch.equal(group_mean_logits(a, 1), a.mean().expand(E * M))
    assert DiagonalMixture(E * M, P, -6.0, 6.0).prior_groups == 1


@pytest.mark.parametrize("groups", [1, 2, E, E * M])
def test_log_joint_matches_the_direct_computation(groups: int) -> None:
    gmm = mixture(groups, seed=3)
    z = torch.randn(N, P, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    got, want = gmm.log_joint(z).detach(), direct_log_joint(gmm, z)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(torch.logsumexp(got, dim=1), torch.logsumexp(want, dim=1), rtol=1e-12, atol=1e-10)


def test_group_means() -> None:
    a = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 30.0], dtype=torch.float64)
    assert group_mean_logits(a, 2).tolist() == [2.0, 2.0, 2.0, 20.0, 20.0, 20.0]
    assert group_mean_logits(a, 1).tolist() == [11.0] * 6
    assert grouped_log_priors(a, 6).tolist() == [-math.log(6)] * 6  # groups of one: equal priors


@pytest.mark.parametrize("groups", [1, E])
def test_nll_gradient_is_the_closed_form(groups: int) -> None:
    """dL/da_k = q_k (sum of N_j over k's group) / N - N_k / N for L = -mean log p(z), q_k = G pi_k
    (the softmax within the group) and N_k = sum_n posterior_nk; pi_k - N_k / N when G = 1."""
    gmm = mixture(groups, seed=5, spread=1.5)
    z = torch.randn(N, P, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    lj = gmm.log_joint(z)
    nll = -torch.logsumexp(lj, dim=1).mean()
    nll.backward()
    posterior = torch.exp(lj - torch.logsumexp(lj, dim=1, keepdim=True)).detach()
    nk = posterior.sum(dim=0)  # [K]
    group_nk = nk.reshape(groups, -1).sum(dim=1).repeat_interleave(E * M // groups)
    q = groups * gmm.priors()
    want = q * group_nk / N - nk / N
    torch.testing.assert_close(gmm.logits.grad, want, rtol=1e-10, atol=1e-13)
    if groups == 1:
        torch.testing.assert_close(gmm.logits.grad, gmm.priors() - nk / N, rtol=1e-10, atol=1e-13)
    else:  # the grouped gradient sums to zero within each group: no mass moves between experts
        torch.testing.assert_close(gmm.logits.grad.reshape(groups, -1).sum(dim=1),
                                   torch.zeros(groups, dtype=torch.float64), rtol=0, atol=1e-14)


class _LogJoint(nn.Module):
    """forward = gmm.log_joint, so torch.func.functional_call can swap the mixture's parameters."""

    def __init__(self, gmm: DiagonalMixture) -> None:
        super().__init__()
        self.gmm = gmm

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.gmm.log_joint(z)


def test_gradcheck_on_a_tiny_mixture() -> None:
    """Finite differences agree with autograd for logits, means and log-variances (float64, 3 experts of
    2 components over P = 2, log-variances inside the clamp)."""
    g = torch.Generator().manual_seed(7)
    wrap = _LogJoint(DiagonalMixture(6, 2, -3.0, 3.0, prior_groups=3).double())
    z = torch.randn(9, 2, dtype=torch.float64, generator=g)
    a = (torch.randn(6, dtype=torch.float64, generator=g) * 2).requires_grad_()
    mu = torch.randn(6, 2, dtype=torch.float64, generator=g).requires_grad_()
    s = (torch.randn(6, 2, dtype=torch.float64, generator=g) * 0.5).requires_grad_()

    def nll(logits: torch.Tensor, means: torch.Tensor, log_vars: torch.Tensor) -> torch.Tensor:
        params = {"gmm.logits": logits, "gmm.means": means, "gmm.log_vars": log_vars}
        return -torch.logsumexp(torch.func.functional_call(wrap, params, (z,)), dim=1).mean()

    assert torch.autograd.gradcheck(nll, (a, mu, s), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("groups", [0, -1, 5, 7])
def test_groups_that_do_not_divide_k_are_one_line_errors(groups: int) -> None:
    with pytest.raises(ValueError, match=r"prior_groups must be a positive divisor of the 12 components") as err:
        DiagonalMixture(12, 2, -6.0, 6.0, prior_groups=groups)
    assert "\n" not in str(err.value)
