"""The diagonal Gaussian mixture an IDA router routes by (docs/format.md, "Routing, exactly")."""
from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


class DiagonalMixture(nn.Module):
    """K diagonal Gaussians over latents z in R^P with prior logits a.

    log p(z,k) = a_k - logsumexp(a) - 1/2 sum_j ((z_j - mu_kj)^2 exp(-s_kj) + s_kj + log 2 pi), with s
    clamped to [log_var_min, log_var_max]. Parameters are stored in float32 (as checkpoints hold them);
    densities are evaluated in float64, as the Swift router does.
    """

    def __init__(self, components: int, latent_dim: int, log_var_min: float, log_var_max: float) -> None:
        super().__init__()
        #: Prior logits a [K]; pi = softmax(a).
        self.logits = nn.Parameter(torch.zeros(components))
        #: Component means mu [K, P].
        self.means = nn.Parameter(torch.randn(components, latent_dim))
        #: Log-variances s [K, P] before clamping.
        self.log_vars = nn.Parameter(torch.zeros(components, latent_dim))
        self.log_var_min = float(log_var_min)
        self.log_var_max = float(log_var_max)

    @property
    def components(self) -> int:
        """K."""
        return int(self.logits.shape[0])

    def priors(self) -> torch.Tensor:
        """pi = softmax(a) [K], float64, no gradient."""
        return torch.softmax(self.logits.detach().double(), dim=0)

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
        log_pi = torch.log_softmax(self.logits.double(), dim=0)
        offset = log_pi - 0.5 * ((mu * mu * prec).sum(dim=1) + s.sum(dim=1) + mu.shape[1] * LOG_2PI)  # [K]
        return offset - 0.5 * ((zd * zd) @ prec.T) + zd @ (mu * prec).T
