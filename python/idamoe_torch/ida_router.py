"""The Input-Domain-Aware router in PyTorch, with the math of Sources/IdaNumerics/IDARouter*.swift."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .layers import EXPERT_SCORES, NORMS, PRIOR_MASSES, ContractError, LinearStack, check_choice, rms_normalize
from .contract import GATE_TEMPERATURE_ABSENT, GATE_TEMPERATURE_NEW_RUNS, check_gate_temperature
from .mixture import DiagonalMixture
from .reactivation import ReactivationConfig, ReactivationEvent, ReactivationState
from .routing import RouterOutput, StepStats, accumulate, entropy_bits, flatten_tokens, top_k


class IDARouter(nn.Module):
    """Autoencoder to a latent z, a diagonal mixture with M components per expert over z, top-k experts
    by component posterior.

    The router reads a detached copy of its input: its loss (L_nll on the mixture, L_rec on the
    autoencoder, L_react for pulled dead components) never reaches the backbone, and the gate weights
    it returns carry no gradient. state_dict names are the contract's (`encoder.{j}.weight`,
    `decoder.{j}.weight`, `gmm.logits`, `gmm.means`, `gmm.log_vars`), so a checkpoint written with
    `save_routers` is read by `idamoe route` and `idamoe inspect`. `prior_mass` (`idamoe.prior_mass`)
    normalises the mixture's prior over all K components (`global`) or within each expert's M, each
    expert holding 1/E of it (`per-expert`).
    """

    kind = "ida"

    def __init__(self, hidden_dim: int, experts: int = 8, components_per_expert: int = 16, latent_dim: int = 32,
                 top_k: int = 2, hidden: Sequence[int] = (128,), activation: str = "gelu", expert_score: str = "max",
                 input_norm: str = "rms", latent_norm: str = "rms", log_var_min: float = -6.0,
                 log_var_max: float = 6.0, reconstruction_weight: float = 1.0, reactivation_weight: float = 1.0,
                 nll_to_encoder: bool = False, reactivation: Optional[ReactivationConfig] = None,
                 seed: int = 0, gate_temperature: float = GATE_TEMPERATURE_NEW_RUNS,
                 prior_mass: str = "global") -> None:
        super().__init__()
        if not 1 <= experts <= 1024:
            raise ContractError(f"experts must be 1...1024, got {experts}")
        if not 1 <= components_per_expert <= 256 or experts * components_per_expert > 65536:
            raise ContractError(f"components per expert must be 1...256 with E x M at most 65536, got {components_per_expert}")
        if not 1 <= latent_dim <= 4096:
            raise ContractError(f"latent width must be 1...4096, got {latent_dim}")
        if not 1 <= top_k <= experts:
            raise ContractError(f"top-k must be 1...{experts}, got {top_k}")
        if not (np.isfinite(log_var_min) and np.isfinite(log_var_max) and log_var_min <= log_var_max):
            raise ContractError(f"log-variance clamp [{log_var_min}, {log_var_max}] is not a finite interval")
        try:
            self.gate_temperature = check_gate_temperature(gate_temperature)
        except ValueError as e:
            raise ContractError(str(e)) from None
        self.hidden_dim = hidden_dim
        self.experts = experts
        self.components_per_expert = components_per_expert
        self.latent_dim = latent_dim
        self.top_k = top_k
        self.activation = activation
        self.expert_score = check_choice("expert_score", expert_score, EXPERT_SCORES)
        self.input_norm = check_choice("input_norm", input_norm, NORMS)
        self.latent_norm = check_choice("latent_norm", latent_norm, NORMS)
        #: `global` (pi = softmax(a) over all K) or `per-expert` (softmax within each expert's M, times 1/E).
        self.prior_mass = check_choice("prior_mass", prior_mass, PRIOR_MASSES)
        self.reconstruction_weight = float(reconstruction_weight)
        self.reactivation_weight = float(reactivation_weight)
        self.nll_to_encoder = bool(nll_to_encoder)
        self.encoder = LinearStack([hidden_dim, *hidden, latent_dim], activation)
        self.decoder = LinearStack([latent_dim, *reversed(list(hidden)), hidden_dim], activation)
        self.gmm = DiagonalMixture(experts * components_per_expert, latent_dim, log_var_min, log_var_max,
                                   prior_groups=experts if self.prior_mass == "per-expert" else 1)
        #: Reactivation bookkeeping (not in state_dict: checkpoints hold the router only).
        self.reactivation = ReactivationState(self.components, reactivation or ReactivationConfig(), seed)
        #: Statistics of the training forwards since the last `observe` (summed over micro-batches), None
        #: when there was none.
        self.step_stats: Optional[StepStats] = None

    @property
    def components(self) -> int:
        """K = E * M."""
        return self.experts * self.components_per_expert

    def metadata(self) -> Dict[str, str]:
        """The checkpoint `__metadata__` entries this router's settings give (docs/format.md)."""
        return {
            "idamoe.router": "ida",
            "idamoe.experts": str(self.experts),
            "idamoe.top_k": str(self.top_k),
            "idamoe.components_per_expert": str(self.components_per_expert),
            "idamoe.latent_dim": str(self.latent_dim),
            "idamoe.activation": self.activation,
            "idamoe.expert_score": self.expert_score,
            "idamoe.input_norm": self.input_norm,
            "idamoe.latent_norm": self.latent_norm,
            "idamoe.log_var_min": repr(self.gmm.log_var_min),
            "idamoe.log_var_max": repr(self.gmm.log_var_max),
            "idamoe.prior_mass": self.prior_mass,
            **({"idamoe.gate_temperature": repr(self.gate_temperature)} if self.gate_temperature != GATE_TEMPERATURE_ABSENT else {}),
        }

    def router_input(self, h: torch.Tensor) -> torch.Tensor:
        """x = stopgrad(h) [N, D] in the router's precision (float32 unless it was cast), RMS-normalised per
        token when input_norm is rms."""
        x = flatten_tokens(h, self.hidden_dim, "IDARouter").detach().to(self.gmm.means.dtype)
        return rms_normalize(x) if self.input_norm == "rms" else x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z = encoder(x) [N, P], RMS-normalised per token when latent_norm is rms."""
        u = self.encoder(x)
        return rms_normalize(u) if self.latent_norm == "rms" else u

    def route(self, h: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Routing without training: experts, weights, log_density [N], posterior [N, K], scores [N, E]
        (the expert scores g), entropy_bits [N], top_component [N], latents [N, P]."""
        with torch.no_grad():
            z = self.encode(self.router_input(h))
            out = self._decide(self.gmm.log_joint(z))
            out["latents"] = z
            return out

    def _decide(self, log_joint: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Posteriors, expert scores (max or sum of the expert's posteriors), top-k, gates, entropy."""
        log_density = torch.logsumexp(log_joint, dim=1)
        posterior = torch.exp(log_joint - log_density[:, None]).detach()
        grouped = posterior.view(-1, self.experts, self.components_per_expert)
        q = grouped.sum(dim=2)
        scores = grouped.amax(dim=2) if self.expert_score == "max" else q
        experts, weights = top_k(scores, self.top_k, self.gate_temperature)
        return dict(experts=experts, weights=weights, log_density=log_density, posterior=posterior, scores=scores,
                    entropy_bits=entropy_bits(q), top_component=posterior.argmax(dim=1))

    def forward(self, h: torch.Tensor) -> RouterOutput:  # type: ignore[override]
        """Routes h [..., D]; in training (with gradients enabled) also computes the router loss and the
        step statistics the RunWriter logs. Autocast is off inside: the router computes in its own
        (float32) precision, as the contract's math does."""
        with torch.autocast(h.device.type, enabled=False):
            if not (self.training and torch.is_grad_enabled()):
                r = self.route(h)
                return RouterOutput(r["experts"], r["weights"].to(h.dtype), h.new_zeros(()))
            return self._train_forward(h)

    def _train_forward(self, h: torch.Tensor) -> RouterOutput:
        """The training forward: routing plus L_nll, L_rec, L_react and the step statistics."""
        x = self.router_input(h)
        z = self.encode(x)
        # L_nll trains the mixture only, unless it is allowed to reach the encoder (docs/decisions.md).
        z_mixture = z if self.nll_to_encoder else z.detach()
        decided = self._decide(self.gmm.log_joint(z_mixture))
        weights = decided["weights"].to(h.dtype)
        n = x.shape[0]
        nll = -decided["log_density"].mean() if n else decided["log_density"].new_zeros(())
        squares = (self.decoder(z) - x).pow(2)
        rec = squares.mean() if n else squares.sum()
        react = self.reactivation.loss(self.gmm)
        loss = nll + self.reconstruction_weight * rec.double() + self.reactivation_weight * react
        self.step_stats = accumulate(self.step_stats, StepStats(
            tokens=n,
            expert_counts=torch.bincount(decided["experts"].reshape(-1), minlength=self.experts).double().cpu(),
            entropy_sum=float(decided["entropy_bits"].sum()),
            nll_sum=float(-decided["log_density"].detach().sum()),
            rec_sum=float(squares.detach().double().sum()),
            rec_count=int(squares.numel()),
            react=float(react.detach()),
            component_counts=torch.bincount(decided["top_component"], minlength=self.components).double().cpu(),
            extras=dict(latents=z.detach(), log_density=decided["log_density"].detach(),
                        top_component=decided["top_component"].detach()),
        ))
        return RouterOutput(decided["experts"], weights, loss.float())

    def observe(self, step: int, stats: Optional[StepStats] = None) -> List[ReactivationEvent]:
        """Reactivation after the optimizer step (as the Swift trainer orders it): updates the usage from
        the training forwards since the last call and every `every` steps flags dead and revived
        components, resetting or pulling them. `stats` holds counts summed over ranks (RunWriter passes
        them); without it the local counts are summed over ranks here. Consumes `step_stats`."""
        local, self.step_stats = self.step_stats, None
        if local is None:
            return []
        if stats is None:
            from .distributed import sum_over_ranks
            if local.component_counts is None:
                raise ValueError("IDARouter.observe: the last forward kept no component counts")
            summed = sum_over_ranks(torch.cat([torch.tensor([float(local.tokens)], dtype=torch.float64),
                                               local.component_counts]))
            tokens, counts = int(summed[0]), summed[1:].numpy()
        else:
            if stats.component_counts is None:
                raise ValueError("IDARouter.observe: statistics without component counts (not an IDA router's)")
            tokens, counts = stats.tokens, stats.component_counts.numpy()
        return self.reactivation.observe(step, self.gmm, self.components_per_expert, counts, tokens,
                                         local.extras.get("latents"), local.extras.get("log_density"),
                                         local.extras.get("top_component"))

    @torch.no_grad()
    def initialize_mixture(self, h: torch.Tensor, generator: Optional[torch.Generator] = None) -> None:
        """Places the mixture on real data before training, as the Swift trainer does: means on K latents
        drawn (without replacement while possible) from h, log-variances at the per-feature latent
        variance (clamped), equal logits (equal priors under either prior mass). The draw order differs
        from Swift's (torch's generator)."""
        z = self.encode(self.router_input(h))
        n, k = z.shape[0], self.components
        if n == 0:
            return
        zd = z.double()
        variance = (zd.pow(2).mean(dim=0) - zd.mean(dim=0).pow(2)).clamp_min(1e-6)
        s = torch.log(variance).clamp(self.gmm.log_var_min, self.gmm.log_var_max).float()
        rows = torch.cat([torch.randperm(n, generator=generator) for _ in range((k + n - 1) // n)])[:k]
        self.gmm.means.copy_(z[rows].float())
        self.gmm.log_vars.copy_(s.expand(k, -1))
        self.gmm.logits.zero_()
