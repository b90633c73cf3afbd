"""Training math: steps of the PyTorch IDA router and of the Swift router (`idamoe router-step`: the
trainer's `IDARouter.trainStep` and `ReactivationState.observe`, with a plain gradient step
p - lr * dL/dp) from the same weights and inputs give the same updated parameters, losses, dead
components and reactivation events, compared through files.

A plain gradient step keeps the gradient visible in the parameters (AdamW's first step would be
nearly lr * sign(g) and hide most of it). Tolerances: parameters within 1e-4 absolute plus 1e-3 of
their change; losses within 1e-5 relative.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from torch_support import run_idamoe

from idamoe_torch import IDARouter, ReactivationConfig, save_routers, write_probe

D, N, BLOCKS = 20, 256, (0, 2)


def make_routers(seed: int, react: ReactivationConfig, **opts) -> Tuple[Dict[int, IDARouter], Dict[int, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    routers, h = {}, {}
    for b in BLOCKS:
        torch.manual_seed(seed + b)
        routers[b] = IDARouter(D, experts=4, components_per_expert=3, latent_dim=5, hidden=(12,), reactivation=react,
                               seed=7 + b, **opts)
        centres = torch.randn(5, D, generator=g) * 2
        h[b] = centres[torch.randint(0, 5, (N,), generator=g)] + torch.randn(N, D, generator=g) * 0.7
        routers[b].initialize_mixture(h[b], generator=g)
    return routers, h


def python_steps(routers: Dict[int, IDARouter], h: Dict[int, torch.Tensor], steps: int, lr: float) -> List[dict]:
    """The command's loop in PyTorch: per step and block, forward, backward, p -= lr * grad, observe."""
    lines: List[dict] = []
    for step in range(1, steps + 1):
        for b, r in routers.items():
            r.zero_grad()
            r(h[b]).loss.backward()
            with torch.no_grad():
                for p in r.parameters():
                    p -= lr * p.grad
            s = r.step_stats
            events = r.observe(step)
            lines.append(dict(step=step, layer=b, nll=s.nll_sum / s.tokens, rec=s.rec_sum / s.rec_count, react=s.react,
                              dead=r.reactivation.dead_count))
            lines.extend(dict(step=step, layer=b, event=e.event, component=e.component, expert=e.expert, prior=e.prior,
                              usage=e.usage) for e in events)
    return lines


def swift_steps(tmp: Path, routers: Dict[int, IDARouter], h: Dict[int, torch.Tensor], steps: int, lr: float,
                *flags: str) -> Tuple[Dict[str, np.ndarray], List[dict]]:
    ck, probe, out = str(tmp / "before.safetensors"), str(tmp / "batch.safetensors"), str(tmp / "after.safetensors")
    save_routers(ck, routers)
    write_probe(probe, torch.zeros(N, dtype=torch.int32), h)
    proc = run_idamoe("router-step", "--checkpoint", ck, "--probe", probe, "--out", out, "--steps", str(steps),
                      "--lr", str(lr), "--seed", "7", *flags)
    return load_file(out), [json.loads(line) for line in proc.stdout.splitlines()]


def compare(swift: Dict[str, np.ndarray], before: Dict[str, np.ndarray], routers: Dict[int, IDARouter]) -> List[str]:
    problems = []
    for b, r in routers.items():
        for name, value in r.state_dict().items():
            key = f"layers.{b}.router.{name}"
            got, want, start = swift[key].astype(np.float64), value.double().numpy(), before[key].astype(np.float64)
            tol = 1e-4 + 1e-3 * np.abs(want - start)
            worst = np.max(np.abs(got - want) - tol)
            if worst > 0:
                i = int(np.argmax(np.abs(got - want) - tol))
                problems.append(f"{key}[{i}]: Swift {got.flat[i]!r}, PyTorch {want.flat[i]!r} (before {start.flat[i]!r})")
    return problems


def compare_lines(swift: List[dict], torch_lines: List[dict]) -> List[str]:
    problems = []
    if [(l["step"], l["layer"], l.get("event"), l.get("component")) for l in swift] != \
            [(l["step"], l["layer"], l.get("event"), l.get("component")) for l in torch_lines]:
        return ["event lines differ:\nSwift   " + "\n        ".join(map(str, swift))
                + "\nPyTorch " + "\n        ".join(map(str, torch_lines))]
    for s, t in zip(swift, torch_lines):
        for key in ("nll", "rec", "react", "prior", "usage"):
            if key in s and not np.isclose(s[key], t[key], rtol=1e-5, atol=1e-9):
                problems.append(f"step {s['step']} layer {s['layer']}: {key} Swift {s[key]}, PyTorch {t[key]}")
        if "dead" in s and s["dead"] != t["dead"]:
            problems.append(f"step {s['step']} layer {s['layer']}: dead Swift {s['dead']}, PyTorch {t['dead']}")
    return problems


@pytest.mark.parametrize("opts", [
    dict(activation="gelu", input_norm="rms", latent_norm="rms"),
    dict(activation="tanh", input_norm="none", latent_norm="none", expert_score="sum", reconstruction_weight=0.5),
    dict(activation="silu", input_norm="rms", latent_norm="none", nll_to_encoder=True),
    dict(activation="gelu", input_norm="rms", latent_norm="rms", prior_mass="per-expert"),
], ids=["gelu-rms-rms", "tanh-none-none-sum", "silu-nll-to-encoder", "per-expert-prior"])
def test_one_step_updates_every_parameter_as_swift_does(tmp_path: Path, opts: dict) -> None:
    routers, h = make_routers(3, ReactivationConfig(mode="off"), **opts)
    if opts.get("prior_mass") == "per-expert":
        # Spread logits, whose gradient under the per-expert prior differs from the global one's.
        g = torch.Generator().manual_seed(4)
        with torch.no_grad():
            for r in routers.values():
                r.gmm.logits.copy_(torch.randn(r.components, generator=g) * 1.5)
    flags = ["--lambda-rec", str(opts.get("reconstruction_weight", 1.0))]
    if opts.get("nll_to_encoder"):
        flags.append("--nll-to-encoder")
    before = {f"layers.{b}.router.{k}": v.numpy().copy() for b, r in routers.items() for k, v in r.state_dict().items()}
    swift, swift_lines = swift_steps(tmp_path, routers, h, 1, 0.05, "--reactivation", "off", *flags)
    torch_lines = python_steps(routers, h, 1, 0.05)
    problems = compare(swift, before, routers) + compare_lines(swift_lines, torch_lines)
    assert not problems, "\n".join(problems)
    moved = max(float(np.max(np.abs(swift[k] - before[k]))) for k in before if ".gmm." in k)
    assert moved > 1e-3, f"the step barely moved the mixture ({moved}): the comparison would prove nothing"


@pytest.mark.parametrize("reseed", ["outliers", "split"])
@pytest.mark.parametrize("prior_mass", ["global", "per-expert"])
@pytest.mark.parametrize("mode", ["reset", "loss"])
def test_reactivation_kills_and_revives_as_swift_does(tmp_path: Path, mode: str, prior_mass: str, reseed: str) -> None:
    """Components starved on purpose (prior logits -12) die at the first check; `reset` moves them onto
    latents drawn with the same generator and seed, `loss` pulls them with L_react (logits toward the
    mean of their prior group: all K, or their expert's M under the per-expert prior mass); the events,
    the dead counts and the final parameters agree after four steps."""
    react = ReactivationConfig(mode=mode, every=2, steps=3, tau=0.5, usage_decay=0.0, reseed=reseed)
    routers, h = make_routers(5, react, prior_mass=prior_mass)
    with torch.no_grad():
        for r in routers.values():
            r.gmm.logits[[1, 4, 10]] = -12.0
            r.gmm.means[[1, 4, 10]] += 40.0
    before = {f"layers.{b}.router.{k}": v.numpy().copy() for b, r in routers.items() for k, v in r.state_dict().items()}
    swift, swift_lines = swift_steps(tmp_path, routers, h, 4, 0.02, "--reactivation", mode, "--react-every", "2",
                                     "--react-steps", "3", "--react-tau", "0.5", "--usage-decay", "0", "--reseed", reseed)
    torch_lines = python_steps(routers, h, 4, 0.02)
    died = [l for l in torch_lines if l.get("event") == "died"]
    assert len(died) >= 3, f"expected the starved components to die: {torch_lines}"
    intervened = [l for l in torch_lines if l.get("event") == ("reset" if mode == "reset" else "pulled")]
    assert len(intervened) >= len(died), f"every dead component gets an intervention event: {torch_lines}"
    problems = compare_lines(swift_lines, torch_lines) + compare(swift, before, routers)
    assert not problems, "\n".join(problems)
