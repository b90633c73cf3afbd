"""RunWriter's run.json `lossUnit` (what the step events' loss is per: `nats/byte` for byte vocabularies,
`nats/token` otherwise, or as given) and `snapshot(step, hidden=...)`, which writes router inputs already
at hand without running the probe; both runs validate against docs/schema/run.schema.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from test_contract import check_run

from idamoe_torch import ContractError, RunWriter, SoftmaxRouter, read_probe


def writer(run: Path, **kwargs) -> RunWriter:
    router = SoftmaxRouter(8, experts=4, top_k=2)
    return RunWriter(str(run), {0: router}, probe_tokens=torch.arange(6), probe_forward=lambda t: router(torch.randn(6, 8)),
                     **kwargs)


@pytest.mark.parametrize("vocab, given, unit", [("bytes", None, "nats/byte"), ([f"t{i}" for i in range(6)], None, "nats/token"),
                                                ("bytes", "nats/token", "nats/token")])
def test_run_json_says_what_the_loss_is_per(tmp_path: Path, vocab, given, unit: str) -> None:
    with writer(tmp_path / "run", vocab=vocab, loss_unit=given) as w:
        w.snapshot(0)
        w.finish(0)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["lossUnit"] == unit
    check_run(tmp_path / "run")


def test_an_unknown_loss_unit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="loss_unit 'bits/word'"):
        writer(tmp_path / "run", loss_unit="bits/word")
    assert not (tmp_path / "run").exists()


def test_snapshot_writes_router_inputs_given_without_running_the_probe(tmp_path: Path) -> None:
    rows = torch.randn(6, 8)
    w = RunWriter(str(tmp_path / "run"), {3: SoftmaxRouter(8, experts=4)}, probe_tokens=torch.arange(6),
                  probe_forward=lambda t: pytest.fail("the probe ran"))
    with pytest.raises(ContractError, match="router inputs for blocks \\[0\\], routers of blocks \\[3\\]"):
        w.snapshot(0, hidden={0: rows})
    w.snapshot(0, hidden={3: rows})
    w.finish(0)
    _, hidden, _ = read_probe(str(tmp_path / "run" / "snapshots" / "step-00000000.probe.safetensors"))
    assert list(hidden) == [3] and torch.equal(hidden[3], rows)
