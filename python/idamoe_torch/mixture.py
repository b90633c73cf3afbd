"""The diagonal Gaussian mixture an IDA router routes by (docs/format.md, "Routing, exactly")."""
from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def grouped_log_priors(logits: torch.Tensor, groups: int) -> torch.Tensor:
    """log pi [K] of prior logits a [K] split into `groups` contiguous groups of K/G components:
    log pi_k = a_k - logsumexp_{j in group(k)} a_j - log G. G = 1 is log_softmax(a), computed as before
    the groups existed; G = E gives every expert 1/E of the prior mass. The caller checks K % G == 0."""
    if groups == 1:
        return torch.log_softmax(logits, dim=0)
    k = logits.shape[0]
    return torch.log_softmax(logits.reshape(groups, k // groups), dim=1).reshape(k) - math.log(groups)


def group_mean_logits(logits: torch.Tensor, groups: int) -> torch.Tensor:
    """Each component's group mean logit [K]: mean of a over the K/G components of its group (all K when
    G = 1), what reactivation resets and pulls a dead component's logit to."""
    k = logits.shape[0]
    if groups == 1:
        return logits.mean().expand(k)
    return logits.reshape(groups, k // groups).mean(dim=1).repeat_interleave(k // groups)


class DiagonalMixture(nn.Module):
    """K diagonal Gaussians over latents z in R^P with prior logits a, in G prior groups.

    log p(z,k) = log pi_k - 1/2 sum_j ((z_j - mu_kj)^2 exp(-s_kj) + s_kj + log 2 pi), with s clamped to
    [log_var_min, log_var_max] and log pi_k = a_k - logsumexp_{j in group(k)} a_j - log G (groups of K/G
    contiguous components: G = 1 is the global softmax, G = E the `per-expert` prior mass). Parameters
    are stored in float32 (as checkpoints hold them); densities are evaluated in float64, as the Swift
    router does.
    """

    def __init__(self, components: int, latent_dim: int, log_var_min: float, log_var_max: float,
                 prior_groups: int = 1) -> None:
        super().__init__()
        if prior_groups < 1 or components % prior_groups != 0:
            raise ValueError(f"prior_groups must be a positive divisor of the {components} components, "
                             f"got {prior_groups}")
        #: Prior logits a [K]; pi = grouped softmax of a (see grouped_log_priors).
        self.logits = nn.Parameter(torch.zeros(components))
        #: Component means mu [K, P].
        self.means = nn.Parameter(torch.randn(components, latent_dim))
        #: Log-variances s [K, P] before clamping.
        self.log_vars = nn.Parameter(torch.zeros(components, latent_dim))
        self.log_var_min = float(log_var_min)
        self.log_var_max = float(log_var_max)
        #: G: the prior is normalised within each of G contiguous groups of K/G components (1: globally).
        self.prior_groups = int(prior_groups)

    @property
    def components(self) -> int:
        """K."""
        return int(self.logits.shape[0])

    def log_priors(self) -> torch.Tensor:
        """log pi [K] in float64, with gradient to the logits."""
        return grouped_log_priors(self.logits.double(), self.prior_groups)

    def priors(self) -> torch.Tensor:
        """pi [K], float64, no gradient: softmax within each group, over G (softmax(a) when G = 1)."""
        g, k = self.prior_groups, self.components
        return torch.softmax(self.logits.detach().double().reshape(g, k // g), dim=1).reshape(k) / g

    def group_mean_logits(self) -> torch.Tensor:
        """Mean logit of each component's prior group [K], float64, no gradient."""
        return group_mean_logits(self.logits.detach().double(), self.prior_groups)

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z_n, k) [N, K] in float64 for latents z [N, P].

        sum_j (z_j - mu_kj)^2 prec_kj = (z^2) prec^T - 2 z (mu prec)^T + sum_j mu_kj^2 prec_kj: two
        matrix products and no N x K x P temporary. torch.clamp passes the gradient of s only where
        log_var_min <= s <= log_var_max, as the Swift backward does.
        """
        zd = z.double()
        s = torch.clamp(self.log_vars.double(), self.log_var_min, self.log_var_max)  # [K, P]
        prec = torch.exp(-s)
        mu = self.means.double()
        log_pi = self.log_priors()
        offset = log_pi - 0.5 * ((mu * mu * prec).sum(dim=1) + s.sum(dim=1) + mu.shape[1] * LOG_2PI)  # [K]
        return offset - 0.5 * ((zd * zd) @ prec.T) + zd @ (mu * prec).T
