"""IDARouter's prior mass (`prior_mass`, checkpoint key `idamoe.prior_mass`, run.json `model.priorMass`):
written and read back by save_routers / load_routers, validated with one-line errors, given to the
mixture as E prior groups, followed by reactivation (a reset or pull moves a dead component's logit to
the mean logit of its expert), by RunWriter and by fit-ida. No binary needed.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import torch_support  # noqa: F401  (one torch thread)

from idamoe_torch import ContractError, IDARouter, ReactivationConfig, RunWriter, load_routers, save_routers, write_probe
from idamoe_torch.fit import fit_ida
from idamoe_torch.mixture import DiagonalMixture
from idamoe_torch.reactivation import ReactivationState

D, E, M, P = 10, 3, 4, 3


def router(prior_mass: str = "per-expert", seed: int = 0, **opts) -> IDARouter:
    torch.manual_seed(seed)
    r = IDARouter(D, experts=E, components_per_expert=M, latent_dim=P, hidden=(6,), prior_mass=prior_mass, **opts)
    with torch.no_grad():
        r.gmm.logits.copy_(torch.randn(E * M) * 2)
    return r


def rewrite(path: str, change) -> None:
    """Rewrites a checkpoint with its metadata changed by `change(meta)`."""
    with safe_open(path, framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {n: f.get_tensor(n) for n in f.keys()}
    change(meta)
    save_file(tensors, path, metadata=meta)


def test_per_expert_router_round_trips_through_a_checkpoint(tmp_path: Path) -> None:
    routers = {1: router(seed=1), 4: router(seed=2)}
    for r in routers.values():
        assert r.prior_mass == "per-expert" and r.gmm.prior_groups == E
        assert r.metadata()["idamoe.prior_mass"] == "per-expert"
        torch.testing.assert_close(r.gmm.priors().reshape(E, M).sum(dim=1), torch.full((E,), 1 / E, dtype=torch.float64))
    path = str(tmp_path / "ck.safetensors")
    save_routers(path, routers)
    with safe_open(path, framework="pt") as f:
        assert f.metadata()["idamoe.prior_mass"] == "per-expert"
    h = torch.randn(50, D, generator=torch.Generator().manual_seed(3))
    for b, loaded in load_routers(path).items():
        assert loaded.metadata() == routers[b].metadata()
        assert loaded.prior_mass == "per-expert" and loaded.gmm.prior_groups == E
        torch.testing.assert_close(loaded.gmm.priors(), routers[b].gmm.priors(), rtol=0, atol=0)
        got, want = loaded.route(h), routers[b].route(h)
        assert torch.equal(got["experts"], want["experts"])
        torch.testing.assert_close(got["log_density"], want["log_density"], rtol=1e-12, atol=0)


def test_global_is_the_default_and_what_an_absent_key_means(tmp_path: Path) -> None:
    r = IDARouter(D, experts=E, components_per_expert=M, latent_dim=P)
    assert r.prior_mass == "global" and r.gmm.prior_groups == 1 and r.metadata()["idamoe.prior_mass"] == "global"
    path = str(tmp_path / "ck.safetensors")
    save_routers(path, {0: router(seed=4)})
    rewrite(path, lambda meta: meta.pop("idamoe.prior_mass"))
    loaded = load_routers(path)[0]
    assert loaded.prior_mass == "global" and loaded.gmm.prior_groups == 1
    assert torch.equal(loaded.gmm.priors(), torch.softmax(loaded.gmm.logits.detach().double(), dim=0))


def test_unknown_prior_mass_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"prior_mass: unknown value 'per_expert' \(global, per-expert\)") as err:
        IDARouter(D, experts=E, components_per_expert=M, latent_dim=P, prior_mass="per_expert")
    assert "\n" not in str(err.value)
    path = str(tmp_path / "ck.safetensors")
    save_routers(path, {0: router()})
    rewrite(path, lambda meta: meta.update({"idamoe.prior_mass": "bogus"}))
    with pytest.raises(ContractError, match=r"metadata idamoe.prior_mass: unknown value 'bogus' \(global, per-expert\)") as err:
        load_routers(path)
    assert "\n" not in str(err.value) and path in str(err.value)


def test_mixed_prior_masses_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="idamoe.prior_mass is 'global'"):
        save_routers(str(tmp_path / "x.safetensors"), {0: router("per-expert"), 1: router("global")})


def starved_state(groups: int, mode: str):
    """A mixture of E experts of M whose components 1 and 6 (experts 0 and 1) are starved (logit -12, no
    tokens); a reactivation state that checks at step 1 and flags them dead."""
    gmm = DiagonalMixture(E * M, P, -6.0, 6.0, prior_groups=groups)
    with torch.no_grad():
        gmm.logits.copy_(torch.tensor([0.5, -12.0, 1.0, 2.0, 3.0, 4.0, -12.0, 5.0, -1.0, -2.0, 1.5, 0.7]))
    state = ReactivationState(E * M, ReactivationConfig(mode=mode, every=1, steps=3, tau=0.5, usage_decay=0.0), seed=3)
    counts = np.full(E * M, 10.0)
    counts[[1, 6]] = 0.0
    latents = torch.randn(int(counts.sum()), P, generator=torch.Generator().manual_seed(5))
    log_density = torch.randn(latents.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    return gmm, state, counts, latents, log_density


@pytest.mark.parametrize("groups", [E, 1])
def test_reset_moves_a_dead_logit_to_its_group_mean(groups: int) -> None:
    gmm, state, counts, latents, log_density = starved_state(groups, "reset")
    before = gmm.logits.detach().double().clone()
    events = state.observe(1, gmm, M, counts, int(counts.sum()), latents, log_density)
    assert [(e.event, e.component) for e in events] == [("died", 1), ("died", 6), ("reset", 1), ("reset", 6)]
    after = gmm.logits.detach()
    if groups == E:  # each expert's mean before the reset, its dead member included
        want = {1: before[0:4].mean(), 6: before[4:8].mean()}
    else:
        want = {1: before.mean(), 6: before.mean()}
    for c, mean in want.items():
        assert float(after[c]) == float(mean.float()), f"component {c}: logit {float(after[c])}, want {float(mean)}"
    keep = [c for c in range(E * M) if c not in want]
    assert torch.equal(after[keep], before[keep].float())
    if groups == E:  # the expert means differ from the global one, so the check above tells them apart
        assert abs(float(before[0:4].mean() - before.mean())) > 0.5 and abs(float(before[4:8].mean() - before.mean())) > 0.5


@pytest.mark.parametrize("groups", [E, 1])
def test_react_loss_pulls_the_logit_toward_its_group_mean(groups: int) -> None:
    """L_react's logit term (a_k - stopgrad(group mean))^2: its gradient is 2 (a_k - mean) at pulled k only."""
    gmm, state, counts, latents, log_density = starved_state(groups, "loss")
    events = state.observe(1, gmm, M, counts, int(counts.sum()), latents, log_density)
    assert [e.event for e in events if e.event == "pulled"] == ["pulled", "pulled"]
    state.loss(gmm).backward()
    a = gmm.logits.detach().double()
    mean = a.reshape(groups, -1).mean(dim=1).repeat_interleave(E * M // groups)
    want = torch.zeros(E * M, dtype=torch.float64)
    want[[1, 6]] = 2 * (a[[1, 6]] - mean[[1, 6]])
    torch.testing.assert_close(gmm.logits.grad.double(), want, rtol=1e-6, atol=1e-6)


def test_run_json_says_the_prior_mass(tmp_path: Path) -> None:
    for mass in ("per-expert", "global"):
        writer = RunWriter(str(tmp_path / mass), {0: router(mass)}, probe_tokens=torch.arange(4), probe_forward=lambda t: None)
        writer.close()
        assert json.loads((tmp_path / mass / "run.json").read_text())["model"]["priorMass"] == mass


def test_fit_ida_writes_per_expert_routers(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(9)
    centres = torch.randn(5, D, generator=g) * 3
    h = centres[torch.randint(0, 5, (300,), generator=g)] + 0.3 * torch.randn(300, D, generator=g)
    probe, out = str(tmp_path / "probe.safetensors"), str(tmp_path / "fit.safetensors")
    write_probe(probe, torch.arange(300) % 256, {2: h})
    with pytest.raises(ContractError, match=r"prior_mass: unknown value 'both'"):
        fit_ida(probe, out, E, M, P, hidden=(6,), prior_mass="both")
    reports = fit_ida(probe, out, E, M, P, hidden=(6,), steps=30, batch=64, em_steps=10, prior_mass="per-expert")
    assert reports[0].nll_after < reports[0].nll_before
    fitted = load_routers(out)[2]
    assert fitted.prior_mass == "per-expert" and fitted.gmm.prior_groups == E
    torch.testing.assert_close(fitted.gmm.priors().reshape(E, M).sum(dim=1), torch.full((E,), 1 / E, dtype=torch.float64))


def test_the_numpy_reference_routes_a_per_expert_checkpoint_as_pytorch_does(tmp_path: Path) -> None:
    """Python writes, the reference (Tests/python/idamoe_ref.py) reads: same priors, densities, experts."""
    import idamoe_ref as ref

    routers = {0: router(seed=7), 2: router(seed=8)}
    path = str(tmp_path / "ck.safetensors")
    save_routers(path, routers)
    ck = ref.load_checkpoint(path)
    h = torch.randn(80, D, generator=torch.Generator().manual_seed(9))
    for b, r in routers.items():
        theirs, ours = ck.routers[b], r.route(h)
        assert theirs.prior_mass == "per-expert"
        np.testing.assert_allclose(theirs.priors, r.gmm.priors().numpy(), rtol=1e-12)
        got = ref.route_layer(theirs, h.numpy(), reconstruct=False)
        np.testing.assert_allclose(got["log_density"], ours["log_density"].numpy(), rtol=1e-5)
        np.testing.assert_allclose(got["posterior"], ours["posterior"].numpy(), rtol=1e-4, atol=1e-6)
        assert np.array_equal(got["experts"], ours["experts"].numpy())


def test_reset_back_off_matches_the_swift_trainer() -> None:
    """A component that never comes back is reset at checks 1, 2, 4, 8, then every 8 (as
    ReactivationBackoffTests in Swift); winning tokens again revives it and clears the count."""
    gmm, state, counts, latents, log_density = starved_state(1, "reset")
    resets = []
    for step in range(1, 31):
        events = state.observe(step, gmm, M, counts, int(counts.sum()), latents, log_density)
        if any(e.event == "reset" and e.component == 1 for e in events):
            resets.append(step)
        with torch.no_grad():
            gmm.logits[1] = -12.0  # the fit starves it again at once
    assert resets == [1, 2, 4, 8, 16, 24]
    assert int(state.attempts[1]) == 6
    counts[1] = 10.0
    events = state.observe(31, gmm, M, counts, int(counts.sum()), latents, log_density)
    assert ("revived", 1) in [(e.event, e.component) for e in events]
    assert int(state.attempts[1]) == 0 and int(state.wait[1]) == 0
