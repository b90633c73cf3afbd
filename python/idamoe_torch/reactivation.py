"""Dead-component detection and reactivation, with the state and events of the Swift trainer
(Sources/IdaNumerics/Reactivation.swift; docs/decisions.md, "Component reactivation")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch

from .contract import TAU
from . import distributed
from .layers import check_choice
from .mixture import DiagonalMixture

#: Reactivation modes: pull dead components with L_react (`loss`), move them at once (`reset`), or
#: only report them (`off`).
MODES = ("loss", "reset", "off")
#: Where a dead component is sent: a latent drawn with probability softmax(-log p(z)) (`outliers`), or a
#: token won by one of the busiest live components, with that component's variances on a reset
#: (`split`, the default of `idamoe train`; docs/decisions.md, "Reactivation that revives").
RESEEDS = ("outliers", "split")

_MASK = (1 << 64) - 1

#: The longest back-off between interventions on a component that does not revive, in checks.
MAX_BACKOFF = 8


class SplitMix64:
    """The Swift trainer's generator (SeededGenerator), so that a seed draws the same targets."""

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next(self) -> int:
        """The next 64 random bits."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def unit(self) -> float:
        """A uniform float in [0, 1) from the top 53 bits."""
        return (self.next() >> 11) * (1.0 / float(1 << 53))


@dataclass
class ReactivationConfig:
    """When a component counts as dead and what happens to it (the defaults of `idamoe train`)."""

    #: `reset` by default, as `idamoe train` (docs/decisions.md, "Defaults").
    mode: str = "reset"
    #: Check every this many steps.
    every: int = 50
    #: Steps for which L_react pulls a dead component (mode `loss`).
    steps: int = 20
    #: Dead when usage and prior are both below tau / K.
    tau: float = TAU
    #: Decay of the usage EMA.
    usage_decay: float = 0.99
    #: Where dead components go (RESEEDS).
    reseed: str = "split"

    def __post_init__(self) -> None:
        check_choice("reactivation", self.mode, MODES)
        check_choice("reseed", self.reseed, RESEEDS)
        if self.every < 1 or self.steps < 1:
            raise ValueError(f"reactivation every ({self.every}) and steps ({self.steps}) must be at least 1")
        if not (self.tau >= 0 and 0 <= self.usage_decay <= 1):
            raise ValueError(f"reactivation tau ({self.tau}) must be >= 0 and usage_decay ({self.usage_decay}) in [0, 1]")


@dataclass
class ReactivationEvent:
    """A component that died, was intervened on, or came back (a `reactivation` event line)."""

    #: "died", "reset" or "pulled" (an intervention: mode reset or loss), or "revived" (usage EMA back at
    #: or above tau/K; docs/decisions.md, "Reading of component reactivation").
    event: str
    component: int
    expert: int
    prior: float
    usage: float


class ReactivationState:
    """Usage EMA, dead flags, targets and pull counters of one router's K components."""

    def __init__(self, components: int, config: ReactivationConfig, seed: int) -> None:
        self.config = config
        #: Usage EMA u [K]: share of tokens whose most probable component is k; the first observed batch
        #: sets it (it reads 1/K until then).
        self.usage = np.full(components, 1.0 / max(components, 1))
        #: Whether `usage` holds observed shares yet (False until the first batch is observed).
        self.observed = False
        #: Components flagged dead [K].
        self.dead = np.zeros(components, dtype=bool)
        #: Target latent per component [K, P] (NaN rows: none).
        self.targets: Optional[torch.Tensor] = None
        #: Steps of L_react left per component [K].
        self.remaining = np.zeros(components, dtype=np.int64)
        #: Interventions on each component since it last revived [K].
        self.attempts = np.zeros(components, dtype=np.int64)
        #: Checks each dead component still waits before its next intervention [K]: after the n-th
        #: intervention without reviving, min(2^(n-1), MAX_BACKOFF) checks (as the Swift trainer).
        self.wait = np.zeros(components, dtype=np.int64)
        self.rng = SplitMix64(seed)

    @property
    def dead_count(self) -> int:
        """Components flagged dead."""
        return int(self.dead.sum())

    def loss(self, gmm: DiagonalMixture) -> torch.Tensor:
        """L_react = sum over pulled k of mean_j (mu_kj - z*_j)^2 + (a_k - stopgrad(mean of a over k's prior
        group))^2 (float64); the group is all K under the global prior mass, k's expert under per-expert."""
        pulled = [k for k in range(len(self.remaining)) if self.remaining[k] > 0]
        if not pulled or self.targets is None:
            return gmm.logits.new_zeros((), dtype=torch.float64)
        idx = torch.tensor(pulled, device=gmm.means.device)
        target = self.targets.to(gmm.means.device)[idx].double()
        diff = gmm.means.double()[idx] - target
        mean_logit = gmm.group_mean_logits().to(gmm.logits.device)[idx]
        da = gmm.logits.double()[idx] - mean_logit
        return diff.pow(2).mean(dim=1).sum() + da.pow(2).sum()

    def observe(self, step: int, gmm: DiagonalMixture, components_per_expert: int, top_counts: np.ndarray,
                tokens: int, latents: Optional[torch.Tensor], log_density: Optional[torch.Tensor],
                top_components: Optional[torch.Tensor] = None) -> List[ReactivationEvent]:
        """Updates usage from a step's routing (global top-component counts over `tokens`; the first batch
        sets it), and every `every` steps flags dead components (usage and prior below tau/K) and revived
        ones (usage alone back at or above tau/K) and, unless the mode is off, gives each dead component
        that needs one (not waiting out its back-off) a target from `latents`: a token won by one of the
        busiest live components (`split`, with `top_components`), else one drawn with probability
        softmax(-log p(z)); `reset` moves it there (its logit to the mean logit of its prior group, its
        log-variances to the donor's or to the mean), `loss` pulls it with L_react. Events: died
        and revived in component order, then one `reset` or `pulled` per intervention (prior and usage as
        they were before it).

        Under torch.distributed every rank holds the same counts and parameters, so every rank takes
        the same decisions; rank 0 draws the targets from its own batch and broadcasts them.
        """
        k = len(self.usage)
        if tokens <= 0:
            return []
        shares = np.asarray(top_counts, dtype=np.float64) / tokens
        if self.observed:
            decay = self.config.usage_decay
            self.usage = decay * self.usage + (1 - decay) * shares
        else:
            self.usage = shares.copy()
            self.observed = True
        self.remaining[self.remaining > 0] -= 1
        if step <= 0 or step % self.config.every != 0:
            return []
        threshold = self.config.tau / k
        priors = gmm.priors().cpu().numpy()
        events: List[ReactivationEvent] = []
        need: List[int] = []

        def event(kind: str, c: int) -> ReactivationEvent:
            return ReactivationEvent(event=kind, component=c, expert=c // components_per_expert,
                                     prior=float(priors[c]), usage=float(self.usage[c]))

        for c in range(k):
            # Dead needs usage and prior both low; revived needs usage alone back up (an intervention
            # restores the prior at once, which says nothing about use).
            unused = self.usage[c] < threshold
            if self.dead[c] and not unused:
                self.dead[c] = False
                self.remaining[c] = 0
                self.attempts[c] = 0
                self.wait[c] = 0
                if self.targets is not None:
                    self.targets[c] = float("nan")
                events.append(event("revived", c))
            # Under a per-expert prior an expert's mass is fixed: usage alone decides (as Swift).
            elif not self.dead[c] and unused and (gmm.prior_groups > 1 or priors[c] < threshold):
                self.dead[c] = True
                need.append(c)
                events.append(event("died", c))
            elif self.dead[c] and self.remaining[c] == 0:
                if self.wait[c] > 0:
                    self.wait[c] -= 1
                else:
                    need.append(c)
        if self.config.mode == "off" or not need or latents is None or log_density is None:
            return events
        p = gmm.means.shape[1]
        drawn = torch.empty(len(need), p, dtype=torch.float32)
        # Split: donors by the step's global counts (the same on every rank), rows from the writer's batch.
        donors = self._donors(len(need), top_counts) if self.config.reseed == "split" and top_components is not None else []
        if distributed.is_writer():
            z = latents.detach().float().cpu()
            if donors:
                rows = self._draw_from_donors(donors, top_components.detach().cpu().numpy())
            else:
                rows = self._draw(len(need), log_density.detach().double().cpu().numpy())
            drawn = z[rows].clone()
        drawn = distributed.broadcast_from_writer(drawn)
        events.extend(event("reset" if self.config.mode == "reset" else "pulled", c) for c in need)
        for c in need:
            self.attempts[c] += 1
            self.wait[c] = min(1 << int(min(self.attempts[c] - 1, 30)), MAX_BACKOFF) - 1
        with torch.no_grad():
            if self.config.mode == "reset":
                # Each group's mean logit before any reset of this check (as Swift computes the mean of all K).
                mean_logit = gmm.group_mean_logits()
                for i, (c, target) in enumerate(zip(need, drawn)):
                    gmm.means[c] = target.to(gmm.means)
                    if donors:  # the donor's variances (donors are live: none is reset in this loop)
                        gmm.log_vars[c] = gmm.log_vars[donors[i]]
                    else:  # the mean over all K rows, including those reset earlier in this loop (as Swift does)
                        gmm.log_vars[c] = gmm.log_vars.double().mean(dim=0).to(gmm.log_vars)
                    gmm.logits[c] = mean_logit[c].to(gmm.logits)
            else:
                if self.targets is None:
                    self.targets = torch.full((k, p), float("nan"))
                for c, target in zip(need, drawn):
                    self.targets[c] = target
                    self.remaining[c] = self.config.steps
        return events

    def _donors(self, count: int, wins: np.ndarray) -> List[int]:
        """The live components that won the most tokens, busiest first (ties to the lower index), one per
        dead component, cycling when there are fewer; empty when no live component won a token."""
        live = sorted((c for c in range(len(wins)) if not self.dead[c] and wins[c] > 0), key=lambda c: (-wins[c], c))
        return [live[i % len(live)] for i in range(count)] if live else []

    def _draw_from_donors(self, donors: List[int], top: np.ndarray) -> List[int]:
        """For each donor, a row of the batch it won, drawn uniformly (row 0 when this batch has none)."""
        rows = {}
        for r, c in enumerate(top.tolist()):
            rows.setdefault(int(c), []).append(r)
        out = []
        for donor in donors:
            own = rows.get(donor, [0])
            out.append(own[int(self.rng.unit() * len(own)) % len(own)])
        return out

    def _draw(self, count: int, log_density: np.ndarray) -> List[int]:
        """`count` rows drawn with probability proportional to softmax(-log p(z)), without replacement
        while rows remain; the same sequential arithmetic as the Swift trainer, so a seed draws the
        same rows."""
        n = len(log_density)
        top = float(np.max(-log_density))
        fresh = [float(np.exp(-v - top)) for v in log_density]
        weights = list(fresh)
        rows: List[int] = []
        for _ in range(count):
            total = 0.0
            for w in weights:
                total += w
            if total <= 0:
                weights = list(fresh)
                total = 0.0
                for w in weights:
                    total += w
            pick = self.rng.unit() * total
            chosen = n - 1
            for i, w in enumerate(weights):
                pick -= w
                if pick < 0:
                    chosen = i
                    break
            rows.append(chosen)
            weights[chosen] = 0.0
        return rows
