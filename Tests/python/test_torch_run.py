"""RunWriter under torch.distributed: a 2-process gloo run (torch_dist_worker.py) writes one run
directory whose per-step loads are the sums over ranks, whose routers stay identical on both ranks
through reactivation resets (IDA) and selection-bias moves (sigmoid-bias), whose snapshots `idamoe route` routes as PyTorch does, and which
`idamoe inspect --headless` reads. Rank 1 does no file I/O.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torch_support import HERE, compare_routes, route_lines, run_idamoe

STEPS = 5  # snapshots at 2, 4 and the last step


@pytest.fixture(scope="module", params=["ida", "softmax", "sigmoid-bias"])
def two_rank_run(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"dist-{request.param}")
    run_dir, results = root / "run", root / "results"
    results.mkdir()
    proc = subprocess.run([sys.executable, "-W", "ignore", str(HERE / "torch_dist_worker.py"), str(run_dir), str(results),
                           "2", str(STEPS), request.param], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"2-process run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    ranks = [torch.load(results / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return request.param, run_dir, ranks, events


def test_loads_are_sums_over_ranks(two_rank_run):
    _, _, ranks, events = two_rank_run
    steps = [e for e in events if e["kind"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, STEPS + 1))
    for e in steps:
        for layer in e["layers"]:
            i = layer["layer"]
            summed = [a + b for a, b in zip(ranks[0]["counts"][e["step"] - 1][i], ranks[1]["counts"][e["step"] - 1][i])]
            local = [c / sum(ranks[0]["counts"][e["step"] - 1][i]) for c in ranks[0]["counts"][e["step"] - 1][i]]
            want = [c / sum(summed) for c in summed]
            assert layer["load"] == pytest.approx(want, abs=2e-6), f"step {e['step']} layer {i}"
            assert layer["load"] != pytest.approx(local, abs=2e-6), f"step {e['step']} layer {i}: rank 0's load alone"


def test_only_rank_zero_writes_and_ranks_stay_identical(two_rank_run):
    kind, run_dir, ranks, events = two_rank_run
    assert not Path(f"{run_dir}-rank1").exists(), "rank 1 touched its run directory"
    assert torch.equal(ranks[0]["fingerprint"], ranks[1]["fingerprint"]), "the ranks' parameters diverged"
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert [e["step"] for e in events if e["kind"] == "snapshot"] == [2, 4, 5]
    if kind == "ida":
        died = [e for e in events if e["kind"] == "reactivation" and e["event"] == "died"]
        assert died, "no component died: the reset path (targets broadcast from rank 0) went untested"
        last = [e for e in events if e["kind"] == "step"][-1]
        assert [l["dead"] for l in last["layers"]] == [ranks[0]["dead"][i] for i in (0, 1)]
    if kind == "sigmoid-bias":  # moved by the global counts, so identical on both ranks (in the fingerprint)
        assert all(float(b.abs().max()) > 0 for b in ranks[0]["bias"].values()), ranks[0]["bias"]


def test_snapshot_routes_as_pytorch_does(two_rank_run):
    _, run_dir, ranks, _ = two_rank_run
    last = STEPS
    snap = run_dir / "snapshots" / f"step-{last:08d}.safetensors"
    probe = run_dir / "snapshots" / f"step-{last:08d}.probe.safetensors"
    routes = ranks[0]["routes"]
    problems = compare_routes(route_lines(str(snap), str(probe)), routes, routes[0]["experts"].shape[0])
    assert not problems, "\n".join(problems)


def test_inspect_reads_the_run(two_rank_run):
    kind, run_dir, _, events = two_rank_run
    frame = run_idamoe("inspect", str(run_dir), "--headless", "--size", "120x40").stdout
    assert "finished" in frame and f"step {STEPS}" in frame, frame
    assert f"{kind} router" in frame, frame
    # The Timeline lists every snapshot with the loss its step event logged.
    timeline = run_idamoe("inspect", str(run_dir), "--headless", "--size", "120x40", "--keys", "5").stdout
    losses = {e["step"]: e["loss"] for e in events if e["kind"] == "step"}
    rows = [line.strip("│ ").split() for line in timeline.splitlines()]
    for step in (2, 4, STEPS):
        assert any(r[:1] == [str(step)] and f"{losses[step]:.3f}" in r for r in rows), f"step {step}:\n{timeline}"


def test_step_sums_micro_batches_and_refuses_a_step_without_forward(tmp_path: Path) -> None:
    """Gradient accumulation: the step event counts every forward since the last step; a step with no
    training forward since the last one is a one-line error rather than a repeat of stale numbers."""
    from idamoe_torch import ContractError, IDARouter, RunWriter

    torch.manual_seed(4)
    router = IDARouter(8, experts=3, components_per_expert=2, latent_dim=3, hidden=(4,))
    writer = RunWriter(str(tmp_path / "run"), {2: router}, probe_tokens=torch.arange(5),
                       probe_forward=lambda t: router(torch.randn(t.numel(), 8)))
    parts = [router(torch.randn(n, 8)) for n in (7, 5)]
    counts = sum(torch.bincount(p.experts.reshape(-1), minlength=3) for p in parts)
    with pytest.raises(ContractError, match=r"the training loss is nan"):
        writer.step(1, float("nan"))
    writer.step(1, 2.0)
    with pytest.raises(ContractError, match=r"ran no training forward") as err:
        writer.step(2, 2.0)
    assert "\n" not in str(err.value)
    writer.snapshot(1)
    writer.finish(1)
    lines = [json.loads(l) for l in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    step = next(l for l in lines if l["kind"] == "step")
    assert step["layers"][0]["load"] == pytest.approx((counts / counts.sum()).tolist(), abs=2e-6)
    # The batch load's p50, p90, p99 and max over the three experts: rank q (n - 1) between the sorted
    # loads, so p50 is the middle one and p90 lies 0.8 of the way from it to the largest.
    low, mid, high = sorted((counts.double() / counts.sum()).tolist())
    want = {"p50": mid, "p90": mid + 0.8 * (high - mid), "p99": mid + 0.98 * (high - mid), "max": high}
    assert step["layers"][0]["load_quantiles"] == pytest.approx(want, rel=0, abs=1e-6)
    assert [l["kind"] for l in lines] == ["start", "step", "snapshot", "done"]


def test_sigmoid_bias_run_logs_held_out_cv_and_is_inspected(tmp_path: Path) -> None:
    """A RunWriter run of sigmoid-bias routers: the step event has no aux or z, the selection bias moves
    with the step's global counts, run.json records biasRate, and the eval event carries the held-out CV
    of the routings counted inside `writer.heldout()` (checked against the routers' own route on the
    same validation rows); `idamoe inspect --headless` reads the run."""
    from idamoe_torch import RunWriter, SigmoidBiasRouter
    from idamoe_torch.heldout import coefficient_of_variation

    torch.manual_seed(5)
    d, e = 8, 4
    routers = {1: SigmoidBiasRouter(d, experts=e, top_k=2, bias_rate=0.01),
               3: SigmoidBiasRouter(d, experts=e, top_k=2, bias_rate=0.01)}
    model = torch.nn.ModuleDict({str(i): r for i, r in routers.items()})

    def forward(x: torch.Tensor) -> None:
        for r in routers.values():
            r(x)

    val = [torch.randn(20, d) + 1.5, torch.randn(13, d)]
    run_dir = tmp_path / "run"
    writer = RunWriter(str(run_dir), model, probe_tokens=torch.arange(16),
                       probe_forward=lambda t: forward(torch.randn(t.numel(), d)))
    for step in (1, 2):
        forward(torch.randn(30, d) + 2.0)
        writer.step(step, 1.5)
    assert float(routers[1].expert_bias.abs().sum()) > 0
    with writer.heldout() as loads:
        for x in val:
            forward(x)
    assert all(r.training for r in routers.values()) and all(r.step_stats is None for r in routers.values())
    writer.eval(2, 3.25, {"a": 3.0}, heldout=loads)
    writer.snapshot(2)
    writer.finish(2)
    events = [json.loads(l) for l in (run_dir / "events.jsonl").read_text().splitlines()]
    step = next(x for x in events if x["kind"] == "step")
    assert all("aux" not in l and "z" not in l for l in step["layers"])
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["model"]["router"] == "sigmoid-bias" and manifest["training"]["biasRate"] == 0.01
    ev = next(x for x in events if x["kind"] == "eval")
    assert ev["heldout_tokens"] == 33 and [l["layer"] for l in ev["layers"]] == [1, 3]
    means = {"top1": [], "topk": [], "gate": []}
    vio_means = {"top1": [], "topk": [], "gate": []}
    for layer in ev["layers"]:
        r = routers[layer["layer"]]
        routes = [r.route(x) for x in val]
        experts = torch.cat([x["experts"] for x in routes])
        weights = torch.cat([x["weights"] for x in routes]).double()
        topk = torch.bincount(experts.reshape(-1), minlength=e).double() / experts.numel()
        top1 = torch.bincount(experts[:, 0], minlength=e).double() / experts.shape[0]
        gate = torch.bincount(experts.reshape(-1), weights=weights.reshape(-1), minlength=e) / weights.sum()
        assert layer["load_topk"] == pytest.approx(topk.tolist(), abs=2e-6)
        assert layer["load_gate"] == pytest.approx(gate.tolist(), abs=2e-6)
        # E = 4: p50 halfway between the middle two, p90 0.7 and p99 0.97 of the way from the third to the largest.
        ordered = sorted(topk.tolist())
        want = {"p50": (ordered[1] + ordered[2]) / 2, "p90": ordered[2] + 0.7 * (ordered[3] - ordered[2]),
                "p99": ordered[2] + 0.97 * (ordered[3] - ordered[2]), "max": ordered[3]}
        assert layer["load_quantiles"] == pytest.approx(want, rel=0, abs=1e-6)
        for name, load in (("top1", top1), ("topk", topk), ("gate", gate)):
            cv = coefficient_of_variation(load.tolist())
            assert layer[f"cv_{name}"] == pytest.approx(cv, rel=1e-5)
            means[name].append(cv)
            vio = float(load.max() / load.mean() - 1)
            assert layer[f"max_vio_{name}"] == pytest.approx(vio, rel=1e-5, abs=1e-6)
            vio_means[name].append(vio)
    for name, values in means.items():
        assert ev[f"heldout_cv_mean_{name}"] == pytest.approx(sum(values) / 2, rel=1e-5)
        assert ev[f"heldout_max_vio_mean_{name}"] == pytest.approx(sum(vio_means[name]) / 2, rel=1e-5, abs=1e-6)
    frame = run_idamoe("inspect", str(run_dir), "--headless", "--size", "120x40").stdout
    assert "finished" in frame and "sigmoid-bias" in frame, frame
