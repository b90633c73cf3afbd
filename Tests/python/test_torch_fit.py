"""`python -m idamoe_torch fit-ida`: fits IDA routers to a probe's router inputs and writes a checkpoint
that `idamoe route` reads and routes as the fitted routers do, under either prior mass (load_routers
reads it back in PyTorch); fitting lowers the NLL; a probe without hidden states is a one-line error.
Test_fit_speed.py holds the early stops, the progress lines, the help's defaults and the device fallback.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torch_support import REPO, compare_routes, route_lines

from idamoe_torch import load_routers, write_probe
from idamoe_torch.__main__ import main

N, D = 400, 12


def clustered_probe(path: Path) -> None:
    g = torch.Generator().manual_seed(9)
    hidden = {}
    for block in (0, 3):
        centres = torch.randn(6, D, generator=g) * 3
        hidden[block] = centres[torch.randint(0, 6, (N,), generator=g)] + 0.3 * torch.randn(N, D, generator=g)
    write_probe(str(path), torch.arange(N) % 256, hidden, domains=torch.arange(N) % 2, domain_names=["x", "y"])


def at_float_precision(route: dict) -> dict:
    """The route with its expert scores rounded to float: `idamoe route` exponentiates log p(z, k) - max
    in float (IDARouter+Decide.swift), so on these well-separated clusters a token's second choice can
    be two experts whose scores both underflow: a tie at 0 there (to the lower index), as here once rounded."""
    return {**route, "scores": route["scores"].float().double()}


def fit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "idamoe_torch", "fit-ida", *args, "--threads", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("prior_mass", ["global", "per-expert"])
def test_fit_ida_writes_a_checkpoint_idamoe_routes(tmp_path: Path, prior_mass: str) -> None:
    probe, out = tmp_path / "probe.safetensors", tmp_path / "fit.safetensors"
    clustered_probe(probe)
    proc = fit("--probe", str(probe), "--out", str(out), "--experts", "4", "--components", "3", "--latent", "4",
               "--hidden", "8", "--steps", "80", "--batch", "128", "--react-every", "20", "--prior-mass", prior_mass)
    assert proc.returncode == 0, proc.stderr
    reports = re.findall(r"layer (\d+): NLL (-?[\d.]+) -> (-?[\d.]+)", proc.stdout)
    assert [int(r[0]) for r in reports] == [0, 3], proc.stdout
    for _, before, after in reports:
        assert float(after) < float(before), f"fitting did not lower the NLL:\n{proc.stdout}"
    routers = load_routers(str(out))
    assert sorted(routers) == [0, 3] and routers[0].experts == 4 and routers[0].components_per_expert == 3
    assert routers[0].prior_mass == prior_mass
    from idamoe_torch import read_probe
    _, hidden, _ = read_probe(str(probe))
    routes = {b: at_float_precision(r.route(hidden[b])) for b, r in routers.items()}
    lines = route_lines(str(out), str(probe))
    # Log-densities cross 0 on these tight clusters, where compare_routes' relative tolerance alone is
    # too tight: they are held here to 1e-3 relative or 1e-4 absolute (nats), the rest by compare_routes.
    swift_density = {b: torch.tensor([line["log_density"] for line in lines if line["layer"] == b], dtype=torch.float64)
                     for b in routes}
    for b, r in routes.items():
        ours = r["log_density"].double()
        assert torch.allclose(swift_density[b], ours, rtol=1e-3, atol=1e-4), \
            f"layer {b}: largest log-density difference {float((swift_density[b] - ours).abs().max()):.3g}"
    problems = compare_routes(lines, {b: {**r, "log_density": swift_density[b]} for b, r in routes.items()}, N)
    assert not problems, "\n".join(problems)


def test_probe_without_hidden_states_is_one_line_error(tmp_path: Path, capsys) -> None:
    probe = tmp_path / "tokens-only.safetensors"
    write_probe(str(probe), torch.arange(10))
    code = main(["fit-ida", "--probe", str(probe), "--out", str(tmp_path / "c.safetensors"), "--experts", "2"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "no layers.{i}.hidden" in err, err
    assert not (tmp_path / "c.safetensors").exists()
