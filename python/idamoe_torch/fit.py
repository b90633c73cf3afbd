"""Post-hoc fit of IDA routers to a probe's router inputs (`python -m idamoe_torch fit-ida`): how IDA
would route the tokens a model routes today (`idamoe diff CAPTURE FIT`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch

from .files import read_probe, save_routers
from .ida_router import IDARouter
from .layers import ContractError
from .reactivation import ReactivationConfig
from .run_writer import __version__, coefficient_of_variation


@dataclass
class FitReport:
    """One layer's fit: NLL per token when the mixture is placed on the settled latents and after its
    training, load CV and dead components after."""

    layer: int
    nll_before: float
    nll_after: float
    cv: float
    dead: int


def _nll_and_load(router: IDARouter, h: torch.Tensor, block: int = 8192) -> "tuple[float, List[float]]":
    total, counts = 0.0, torch.zeros(router.experts, dtype=torch.float64)
    for start in range(0, h.shape[0], block):
        r = router.route(h[start: start + block])
        total -= float(r["log_density"].sum())
        counts += torch.bincount(r["experts"].reshape(-1), minlength=router.experts).double()
    share = (counts / counts.sum().clamp_min(1)).tolist()
    return total / max(h.shape[0], 1), share


def fit_ida(probe: str, out: str, experts: int, components: int, latent: int, hidden: Sequence[int] = (128,),
            top_k: int = 2, steps: int = 500, batch: int = 1024, lr: float = 1e-2, seed: int = 0,
            reactivation: str = "reset", react_every: int = 50, activation: str = "gelu", expert_score: str = "max",
            input_norm: str = "rms", latent_norm: str = "rms", layers: Optional[Sequence[int]] = None) -> List[FitReport]:
    """Fits one IDA router per MoE block of the probe on minibatches of its tokens, the autoencoder for
    the first half of the steps (reconstruction), then the mixture (L_nll, with reactivation) on the
    latents of the fixed autoencoder, and writes them as checkpoint `out`."""
    _, states, _ = read_probe(probe)
    if not states:
        raise ContractError(f"{probe}: no layers.{{i}}.hidden tensors (a run's snapshot probe has them)")
    chosen = sorted(states) if layers is None else list(layers)
    missing = [i for i in chosen if i not in states]
    if missing:
        raise ContractError(f"{probe}: no layers.{missing[0]}.hidden (the probe has blocks {sorted(states)})")
    if steps < 1 or batch < 1:
        raise ContractError(f"steps ({steps}) and batch ({batch}) must be at least 1")
    routers: Dict[int, IDARouter] = {}
    reports: List[FitReport] = []
    for i in chosen:
        h = states[i]
        g = torch.Generator().manual_seed(seed + i)
        torch.manual_seed(seed + i)
        router = IDARouter(h.shape[1], experts=experts, components_per_expert=components, latent_dim=latent, top_k=top_k,
                           hidden=hidden, activation=activation, expert_score=expert_score, input_norm=input_norm,
                           latent_norm=latent_norm, reactivation=ReactivationConfig(mode=reactivation, every=react_every),
                           seed=seed + i)
        n = h.shape[0]

        def train(steps_: int, params: List[torch.nn.Parameter], first_step: int) -> None:
            opt = torch.optim.Adam(params, lr=lr)
            for step in range(first_step, first_step + steps_):
                rows = torch.randint(0, n, (min(batch, n),), generator=g)
                loss = router(h[rows]).loss
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                router.observe(step)

        # The encoder learns from the reconstruction alone and moves the latents as it learns, so the
        # mixture is fitted in two phases: the autoencoder first (its latents settle), then the mixture,
        # placed on those latents and trained by L_nll with reactivation while the autoencoder is fixed.
        router.train()
        train(steps // 2, list(router.encoder.parameters()) + list(router.decoder.parameters()), 1)
        router.initialize_mixture(h[torch.randperm(n, generator=g)[: min(batch, n)]], generator=g)
        before, _ = _nll_and_load(router, h)
        train(steps - steps // 2, list(router.gmm.parameters()), steps // 2 + 1)
        after, load = _nll_and_load(router, h)
        routers[i] = router
        reports.append(FitReport(i, before, after, coefficient_of_variation(load), router.reactivation.dead_count))
    save_routers(out, routers, step=steps, extra_metadata={"idamoe.producer": f"idamoe_torch {__version__} fit-ida",
                                                           "idamoe.fit_probe": probe})
    return reports
