"""Parity: checkpoints and probes written by the PyTorch routers (python/idamoe_torch), routed by
`idamoe route --jsonl`, give PyTorch's own decisions on every token except exact ties (weights within
1e-4, log-densities within 1e-3 relative), for several activations, norms, score modes and top-k, and
for softmax routers with and without a gate bias, and for sigmoid-bias routers whose selection bias
has moved. The routers are trained a few steps first, so the
files hold trained parameters rather than their initialisation (and a per-expert prior mass case has
its logits spread, so that the prior mass shows in the densities).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest
import torch

from torch_support import LOG_DENSITY_RTOL, compare_routes, route_lines

from idamoe_torch import (ContractError, IDARouter, SigmoidBiasRouter, SoftmaxRouter, combine_experts, load_routers,
                          save_routers, write_probe)

D, N, BLOCKS = 24, 300, (1, 3)

IDA_CASES = {
    "gelu_max_rms_rms": dict(activation="gelu", expert_score="max", input_norm="rms", latent_norm="rms", top_k=2),
    "gelu_tanh_sum_none_none_deep": dict(activation="gelu_tanh", expert_score="sum", input_norm="none",
                                         latent_norm="none", top_k=3, hidden=(16, 12)),
    "relu_max_top1": dict(activation="relu", expert_score="max", input_norm="rms", latent_norm="none", top_k=1),
    "silu_sum_linear_encoder": dict(activation="silu", expert_score="sum", input_norm="none", latent_norm="rms",
                                    top_k=2, hidden=()),
    "tanh_max": dict(activation="tanh", expert_score="max", input_norm="rms", latent_norm="rms", top_k=2),
    "gate_temperature_4": dict(activation="gelu", expert_score="max", input_norm="rms", latent_norm="rms", top_k=3,
                               gate_temperature=4.0),
    "per_expert_prior_sum": dict(activation="gelu", expert_score="sum", input_norm="rms", latent_norm="rms", top_k=2,
                                 prior_mass="per-expert"),
}


def hidden_states(seed: int) -> Dict[int, torch.Tensor]:
    """Router inputs with some structure: a few clusters in D, scaled differently per block."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for b in BLOCKS:
        centres = torch.randn(6, D, generator=g) * 3
        pick = torch.randint(0, 6, (N,), generator=g)
        out[b] = centres[pick] + torch.randn(N, D, generator=g) * (0.5 + b)
    return out


def train_a_little(routers: Dict[int, torch.nn.Module], h: Dict[int, torch.Tensor], steps: int = 5) -> None:
    params = [p for r in routers.values() for p in r.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = sum(r(h[b]).loss for b, r in routers.items())
        loss.backward()
        opt.step()


def spread_logits(routers: Dict[int, IDARouter], h: Dict[int, torch.Tensor]) -> None:
    """Logits spread widely (a few steps barely move them from 0), so that a reader taking the prior as
    global would give log-densities beyond compare_routes' tolerance: the case tests the prior mass."""
    g = torch.Generator().manual_seed(15)
    for b, r in routers.items():
        with torch.no_grad():
            r.gmm.logits.copy_(torch.randn(r.components, generator=g) * 2)
            joint = r.gmm.log_joint(r.encode(r.router_input(h[b])))
            global_joint = joint - r.gmm.log_priors() + torch.log_softmax(r.gmm.logits.double(), dim=0)
            grouped, plain = joint.logsumexp(dim=1), global_joint.logsumexp(dim=1)
        assert float(((grouped - plain).abs() / grouped.abs()).max()) > 10 * LOG_DENSITY_RTOL


@pytest.mark.parametrize("case", list(IDA_CASES))
def test_ida_checkpoint_routes_as_pytorch_does(tmp_path: Path, case: str) -> None:
    torch.manual_seed(11)
    opts = dict(IDA_CASES[case])
    hidden = opts.pop("hidden", (16,))
    routers = {b: IDARouter(D, experts=5, components_per_expert=3, latent_dim=6, hidden=hidden, **opts)
               for b in BLOCKS}
    h = hidden_states(seed=len(case))
    for b, r in routers.items():
        r.initialize_mixture(h[b], generator=torch.Generator().manual_seed(b))
    train_a_little(routers, h)
    if opts.get("prior_mass") == "per-expert":
        spread_logits(routers, h)
    ck, probe = str(tmp_path / "ida.safetensors"), str(tmp_path / "probe.safetensors")
    save_routers(ck, routers, step=5)
    write_probe(probe, torch.arange(N) % 256, h)
    routes = {b: r.route(h[b]) for b, r in routers.items()}
    problems = compare_routes(route_lines(ck, probe), routes, N)
    assert not problems, f"{case}: Swift and PyTorch disagree:\n" + "\n".join(problems)


@pytest.mark.parametrize("bias,top_k", [(True, 2), (False, 1)])
def test_softmax_checkpoint_routes_as_pytorch_does(tmp_path: Path, bias: bool, top_k: int) -> None:
    torch.manual_seed(12)
    routers = {b: SoftmaxRouter(D, experts=6, top_k=top_k, bias=bias, aux_loss=0.01, z_loss=0.001) for b in BLOCKS}
    h = hidden_states(seed=3)
    train_a_little(routers, h)
    ck, probe = str(tmp_path / "softmax.safetensors"), str(tmp_path / "probe.safetensors")
    save_routers(ck, routers)
    write_probe(probe, torch.arange(N) % 256, {b: x.half().float() for b, x in h.items()})
    routes = {b: r.route(h[b].half().float()) for b, r in routers.items()}
    problems = compare_routes(route_lines(ck, probe), routes, N)
    assert not problems, "Swift and PyTorch disagree:\n" + "\n".join(problems)


@pytest.mark.parametrize("bias,top_k", [(True, 2), (False, 3)])
def test_sigmoid_bias_checkpoint_routes_as_pytorch_does(tmp_path: Path, bias: bool, top_k: int) -> None:
    """Gates trained a few steps by a stand-in task loss, selection biases moved by `observe` after each
    step; the bias must change some decisions, or the test would not see it."""
    torch.manual_seed(13)
    routers = {b: SigmoidBiasRouter(D, experts=6, top_k=top_k, bias=bias, bias_rate=0.02) for b in BLOCKS}
    h = hidden_states(seed=4)
    opt = torch.optim.Adam([p for r in routers.values() for p in r.parameters()], lr=1e-2)
    for step in range(1, 9):
        opt.zero_grad()
        sum((r(h[b]).weights * torch.arange(top_k)).sum() for b, r in routers.items()).backward()
        opt.step()
        for r in routers.values():
            r.observe(step)
    for b, r in routers.items():
        assert float(r.expert_bias.abs().max()) > 0.05, f"block {b}: the bias barely moved"
        route = r.route(h[b])
        plain = torch.sort(route["scores"], dim=1, descending=True, stable=True).indices[:, :top_k]
        assert not torch.equal(plain, route["experts"]), f"block {b}: the bias changed no decision"
    ck, probe = str(tmp_path / "sigmoid.safetensors"), str(tmp_path / "probe.safetensors")
    save_routers(ck, routers)
    write_probe(probe, torch.arange(N) % 256, h)
    routes = {b: r.route(h[b]) for b, r in routers.items()}
    problems = compare_routes(route_lines(ck, probe), routes, N)
    assert not problems, "Swift and PyTorch disagree:\n" + "\n".join(problems)


GATE_OPTIONS = {
    "unrenormalised": dict(normalize=False),
    "scaled": dict(scale=2.5),
    "grouped": dict(normalize=False, scale=0.5, groups=3, group_top_k=1),
    "grouped_by_best": dict(groups=3, group_top_k=1, group_score="max"),  # DeepSeek-V2
    "bias_on_logits": dict(bias_on="logits"),  # Kolibri (sigmoid-bias); a softmax router here has an Ernie bias
}


@pytest.mark.parametrize("kind", ["softmax", "sigmoid-bias"])
@pytest.mark.parametrize("options", list(GATE_OPTIONS))
def test_gate_options_route_as_pytorch_does(tmp_path: Path, kind: str, options: str) -> None:
    """set_gate_options (what capture sets from a model's config): trained a few steps with them, saved,
    routed by `idamoe route` as PyTorch routes, and read back by load_routers with the same options."""
    torch.manual_seed(14)
    ernie = kind == "softmax" and options == "bias_on_logits"  # a softmax router with a selection bias
    routers = {b: (SoftmaxRouter(D, experts=6, top_k=2, selection_bias=ernie) if kind == "softmax"
                   else SigmoidBiasRouter(D, experts=6, top_k=2)) for b in BLOCKS}
    for r in routers.values():
        r.set_gate_options(**GATE_OPTIONS[options])
        if r.expert_bias is not None:
            r.expert_bias.copy_(torch.linspace(-0.1, 0.1, 6) * (10 if options == "bias_on_logits" else 1))
    h = hidden_states(seed=5)
    opt = torch.optim.Adam([p for r in routers.values() for p in r.parameters()], lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        sum((r(h[b]).weights * torch.arange(2)).sum() for b, r in routers.items()).backward()
        opt.step()
    ck, probe = str(tmp_path / "gated.safetensors"), str(tmp_path / "probe.safetensors")
    save_routers(ck, routers)
    write_probe(probe, torch.arange(N) % 256, h)
    routes = {b: r.route(h[b]) for b, r in routers.items()}
    problems = compare_routes(route_lines(ck, probe), routes, N)
    assert not problems, "Swift and PyTorch disagree:\n" + "\n".join(problems)
    for b, r in load_routers(ck).items():
        assert r.metadata() == routers[b].metadata()
        assert torch.equal(r.route(h[b])["experts"], routes[b]["experts"])
        assert (r.expert_bias is None) == (routers[b].expert_bias is None)
    if options == "grouped":  # one group of two kept: both choices in it
        assert all(int(e[0]) // 2 == int(e[1]) // 2 for e in routes[BLOCKS[0]]["experts"])


def test_gate_options_that_cannot_route_are_one_line_errors(tmp_path: Path) -> None:
    r = SoftmaxRouter(4, experts=6, top_k=3)
    for kwargs, needle in [(dict(scale=0.0), "finite and positive"), (dict(groups=4), "do not divide 6"),
                           (dict(groups=3, group_top_k=4), "1...3"), (dict(groups=3, group_top_k=1), "fewer than top-k 3")]:
        with pytest.raises(ContractError, match=needle):
            r.set_gate_options(**kwargs)
    save_routers(str(tmp_path / "ck.safetensors"), {0: r}, extra_metadata={"idamoe.gate_normalize": "no"})
    with pytest.raises(ContractError, match="idamoe.gate_normalize: 'no' is not true or false") as e:
        load_routers(str(tmp_path / "ck.safetensors"))
    assert "\n" not in str(e.value)


def test_sigmoid_bias_moves_toward_balance_by_integer_comparison() -> None:
    """E 4, k 2, N 6: the fair count is 3 of 12 assignments; counts 5, 3, 2, 2 move the biases by -r, 0,
    +r, +r (float32 steps, as the Swift router's); a call with no forward since the last changes nothing."""
    r = SigmoidBiasRouter(3, experts=4, top_k=2, bias_rate=0.25)
    r.update_bias(6, torch.tensor([5.0, 3.0, 2.0, 2.0]))
    assert r.expert_bias.tolist() == [-0.25, 0.0, 0.25, 0.25]
    assert r.observe(1) == [] and r.expert_bias.tolist() == [-0.25, 0.0, 0.25, 0.25]
    loaded = SigmoidBiasRouter(3, experts=4, top_k=2)
    loaded.load_state_dict(r.state_dict())
    assert loaded.expert_bias.tolist() == [-0.25, 0.0, 0.25, 0.25]


def test_ties_go_to_the_lower_expert() -> None:
    """Equal expert scores pick the lower index first, as the contract says."""
    r = SoftmaxRouter(4, experts=4, top_k=2)
    with torch.no_grad():
        r.gate.weight.zero_()
    out = r.route(torch.randn(5, 4))
    assert out["experts"].tolist() == [[0, 1]] * 5


def test_mixed_settings_are_one_line_error(tmp_path: Path) -> None:
    a = IDARouter(8, experts=2, components_per_expert=2, latent_dim=3, hidden=(4,))
    b = IDARouter(8, experts=2, components_per_expert=2, latent_dim=3, hidden=(4,), expert_score="sum")
    with pytest.raises(ValueError, match=r"idamoe.expert_score is 'sum'") as err:
        save_routers(str(tmp_path / "x.safetensors"), {0: a, 1: b})
    assert "\n" not in str(err.value)
    assert not (tmp_path / "x.safetensors").exists()


def test_combine_experts_is_the_gate_weighted_sum() -> None:
    torch.manual_seed(2)
    r = SoftmaxRouter(6, experts=3, top_k=2)
    experts = [torch.nn.Linear(6, 6) for _ in range(3)]
    h = torch.randn(10, 6)
    route = r(h)
    got = combine_experts(route, h, experts)
    want = torch.stack([sum(route.weights[n, j] * experts[int(route.experts[n, j])](h[n]) for j in range(2))
                        for n in range(10)])
    assert torch.allclose(got, want, atol=1e-6)
    got.sum().backward()  # softmax gates stay differentiable through the combination
    assert r.gate.weight.grad is not None and float(r.gate.weight.grad.abs().sum()) > 0


def test_routers_keep_their_precision_under_autocast_and_half_inputs() -> None:
    """bfloat16 hidden states and autocast do not change the decisions: the routers compute in float32."""
    torch.manual_seed(3)
    ida = IDARouter(D, experts=4, components_per_expert=2, latent_dim=4, hidden=(8,))
    soft = SoftmaxRouter(D, experts=4, top_k=2)
    h = hidden_states(seed=1)[1].bfloat16()
    for r in (ida, soft):
        r.train()
        want = r.route(h.float())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = r(h)
        assert got.weights.dtype == torch.bfloat16 and torch.equal(got.experts, want["experts"])
        assert torch.allclose(got.weights.float(), want["weights"].float(), atol=1e-2)
