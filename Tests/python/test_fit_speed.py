"""fit-ida fits in seconds: the autoencoders stop at a plateau and EM once the NLL settles, long before
generous limits (counted in steps, not timed); a progress line per group and per block reaches stderr;
`--help` shows every default; `--device cuda` without a GPU says so and fits on the CPU. The stacked
autoencoders train as each router's own would, and components are grouped into experts by load.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
import pytest
import torch

import torch_support  # noqa: F401  (one torch thread)

from idamoe_torch import IDARouter, write_probe
from idamoe_torch.__main__ import main
from idamoe_torch.fit import DEFAULTS, FitDefaults, _group_by_load, _StackedAutoencoders
from idamoe_torch.mixture import DiagonalMixture

N, D = 600, 16
#: Limits far above what the tiny probe needs: the fit must stop on its own.
STEP_LIMIT, EM_LIMIT = 5000, 400
PROGRESS = re.compile(r"fit-ida: layer (\d+) \((\d+)/(\d+)\): (\d+) autoencoder \+ (\d+) EM steps, "
                      r"NLL (-?[\d.]+) -> (-?[\d.]+) per token, load CV [\d.]+, dead \d+, [\d.]+ s")


def tiny_probe(path: Path, blocks=(0, 1, 2)) -> None:
    """Tokens near 8 centres in D 16, a different draw per block."""
    g = torch.Generator().manual_seed(4)
    hidden = {}
    for block in blocks:
        centres = torch.randn(8, D, generator=g)
        hidden[block] = centres[torch.randint(0, 8, (N,), generator=g)] + 0.5 * torch.randn(N, D, generator=g)
    write_probe(str(path), torch.arange(N) % 256, hidden)


def fit(tmp_path: Path, capsys, *extra: str) -> "tuple[int, str, str]":
    probe = tmp_path / "probe.safetensors"
    tiny_probe(probe)
    code = main(["fit-ida", "--probe", str(probe), "--out", str(tmp_path / "fit.safetensors"), "--experts", "4",
                 "--components", "4", "--latent", "8", "--hidden", "16", "--threads", "1", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_fit_stops_on_its_own_and_reports_each_layer(tmp_path: Path, capsys) -> None:
    code, out, err = fit(tmp_path, capsys, "--steps", str(STEP_LIMIT), "--em-steps", str(EM_LIMIT))
    assert code == 0, err
    groups = re.findall(r"fit-ida: blocks ([\d,]+): autoencoders (\d+) steps \((plateau|step limit)\)", err)
    assert groups == [("0,1,2", groups[0][1], "plateau")], err
    progress = PROGRESS.findall(err)
    assert [(int(p[0]), int(p[1]), int(p[2])) for p in progress] == [(0, 1, 3), (1, 2, 3), (2, 3, 3)], err
    for layer, _, _, ae, em, before, after in progress:
        assert int(ae) == int(groups[0][1]) and int(ae) <= 400, f"layer {layer}: {ae} autoencoder steps\n{err}"
        assert 1 <= int(em) < EM_LIMIT, f"layer {layer}: {em} EM steps\n{err}"
        assert float(after) < float(before), err
    assert err.index("layer 0 (1/3)") < err.index("layer 2 (3/3)")
    assert re.findall(r"^layer (\d+): NLL", out, re.M) == ["0", "1", "2"] and "wrote" in out


def test_a_step_limit_is_reported_as_such(tmp_path: Path, capsys) -> None:
    code, _, err = fit(tmp_path, capsys, "--steps", "30", "--em-steps", "3", "--layer", "1")
    assert code == 0, err
    assert "fit-ida: blocks 1: autoencoders 30 steps (step limit)" in err, err
    assert [(int(p[0]), int(p[3])) for p in PROGRESS.findall(err)] == [(1, 30)], err
    assert all(int(p[4]) <= 3 for p in PROGRESS.findall(err))


def test_blocks_beyond_the_group_budget_are_fitted_group_by_group(tmp_path: Path, capsys) -> None:
    # A budget of 0 MiB holds no block, so each block is a group of its own.
    code, _, err = fit(tmp_path, capsys, "--group-mib", "0", "--em-steps", "5")
    assert code == 0, err
    assert re.findall(r"fit-ida: blocks ([\d,]+):", err) == ["0", "1", "2"], err


def test_help_shows_every_default(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["fit-ida", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    flags = {f.name: "--" + f.name.replace("_", "-") for f in dataclasses.fields(FitDefaults)}
    flags["group_bytes"] = "--group-mib"
    shown = {f.name: getattr(DEFAULTS, f.name) for f in dataclasses.fields(FitDefaults)}
    shown["group_bytes"] = DEFAULTS.group_bytes >> 20
    shown["hidden"] = list(DEFAULTS.hidden)
    for name, flag in flags.items():
        start = text.index(flag + " ", text.index("options:"))
        entry = text[start: text.find(" --", start + len(flag))]
        assert f"(default: {shown[name]})" in entry, f"{flag}: {entry!r}"
    assert "(default: 0)" in text[text.index("--threads THREADS"):]
    assert "(default: None)" not in text, "--layer says what its absence means instead"


def test_cuda_without_a_gpu_says_so_and_fits_on_the_cpu(tmp_path: Path, capsys) -> None:
    code, out, err = fit(tmp_path, capsys, "--device", "cuda", "--em-steps", "3", "--layer", "0")
    assert code == 0, err
    if torch.cuda.is_available():
        assert "no CUDA device" not in err and "on cuda" in err, err
    else:
        assert "fit-ida: device cuda: no CUDA device here" in err and "fitting on the CPU" in err, err
        assert "on cpu" in err
    assert "wrote" in out


def test_an_unknown_device_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    code, out, err = fit(tmp_path, capsys, "--device", "tpu")
    assert code == 1 and out == "" and err.count("\n") == 1 and "device" in err, err


def test_stacked_autoencoders_train_as_each_router_alone() -> None:
    """Two routers trained together (batched, per-block clipping, the written-out Adam) end where each
    trained alone by torch.optim.Adam and clip_grad_norm_ ends, within float32 rounding."""
    together, alone = [], []
    for seed in (1, 2):
        torch.manual_seed(seed)
        together.append(IDARouter(12, experts=2, components_per_expert=2, latent_dim=3, hidden=[6]))
        torch.manual_seed(seed)
        alone.append(IDARouter(12, experts=2, components_per_expert=2, latent_dim=3, hidden=[6]))
    x = torch.randn(2, 40, 12, generator=torch.Generator().manual_seed(3)) * torch.tensor([1.0, 30.0])[:, None, None]
    stacked = _StackedAutoencoders(together, torch.device("cpu"))
    optimizers = [torch.optim.Adam(list(r.encoder.parameters()) + list(r.decoder.parameters()), lr=1e-2) for r in alone]
    for step in range(1, 31):
        stacked.losses(stacked.inputs(x)).sum().backward()
        stacked.clip()
        stacked.adam(1e-2, step)
        for k, (r, opt) in enumerate(zip(alone, optimizers)):
            xi = r.router_input(x[k])
            loss = (r.decoder(r.encode(xi)) - xi).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
    stacked.store()
    for a, b in zip(together, alone):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            if name.startswith(("encoder", "decoder")):
                assert torch.allclose(p, q, rtol=1e-4, atol=1e-5), f"{name}: largest difference {float((p - q).abs().max()):.3g}"


def test_components_are_grouped_into_experts_by_load() -> None:
    """Six components into three experts of two: from the most used down, each to the least loaded
    expert with room; expert 0 starts with the tied places `idamoe route` gives it."""
    gmm = DiagonalMixture(6, 1, -6.0, 6.0).double()
    with torch.no_grad():
        gmm.means.copy_(torch.arange(6, dtype=torch.float64)[:, None])
    counts = torch.tensor([50.0, 10.0, 40.0, 5.0, 30.0, 20.0], dtype=torch.float64)
    _group_by_load(gmm, experts=3, m=2, counts=counts)
    # 50 -> e0, 40 -> e1, 30 -> e2, 20 -> e2 (30), 10 -> e1 (40), 5 -> e0 (50): loads 55, 50, 50.
    assert gmm.means[:, 0].tolist() == [0.0, 3.0, 2.0, 1.0, 4.0, 5.0]
    _group_by_load(gmm, experts=3, m=2, counts=counts[gmm.means[:, 0].long()], tied=100.0)
    # Expert 0 starts at 100: 50 -> e1, 40 -> e2, 30 -> e2 (40 < 50), 20 -> e1, then e0 takes the rest.
    assert gmm.means[:, 0].tolist() == [1.0, 3.0, 0.0, 5.0, 2.0, 4.0]
