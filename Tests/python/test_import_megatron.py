"""`python -m idamoe_torch import megatron`: Megatron-Core router traces and tokens-per-expert logs become
runs that `idamoe route`, `diff`, `inspect` and `fit-ida` read, with loads, entropies and probes checked
against the records written (megatron_records.py: fixtures to Megatron's schema).

One test has megatron-core 0.19.2's own RouterTracer write a trace of two ranks, with both sidecars and
the router weights, and checks it is byte for byte what megatron_records.write_trace writes for the same
decisions. It runs, started when this module is collected, in a child of this interpreter with
$IDAMOE_MEGATRON_PATH (default .megatron-core, where scripts/setup unpacks the package) on its path, and
fails, never skips, when that is missing.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch
from safetensors import safe_open

from binary_support import REPO, idamoe_binary
from megatron_records import Call, write_tpe, write_trace
from peer_writers import start_writer
from test_contract import check_run

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "python")}


def run_import(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "idamoe_torch", "import", *args], capture_output=True, text=True,
                          env=ENV, cwd=REPO, timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def import_in_process(capsys: Any, *args: str) -> subprocess.CompletedProcess:
    """The command through `python -m idamoe_torch`'s own main() in this interpreter (no second torch
    start-up): its status, stdout and stderr."""
    from idamoe_torch.__main__ import main

    status = main(["import", *args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out.out, out.err)


def idamoe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([idamoe_binary(), *args], capture_output=True, text=True, env=ENV, timeout=120)


def events(run: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def probe_tensors(path: Path) -> Dict[str, np.ndarray]:
    with safe_open(str(path), framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def entropy_bits(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return -(p * np.log2(p)).sum(axis=1)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=5e-6, abs_tol=1e-12)


def best_first(calls: List[Call]) -> np.ndarray:
    """The calls' experts [n, k], each token's ordered by its traced logits, highest first, as the import
    writes them into a probe (the trace lists them by index)."""
    rows = []
    for c in calls:
        assert c.logits is not None
        order = np.argsort(-np.take_along_axis(c.logits, c.indices.astype(np.int64), axis=1), axis=1, kind="stable")
        rows.append(np.take_along_axis(c.indices, order, axis=1))
    return np.concatenate(rows)


def test_a_router_trace_becomes_a_run_of_loads_entropies_and_probes(tmp_path: Path) -> None:
    truth = write_trace(str(tmp_path / "trace"), skew=1.0)
    run = tmp_path / "run"
    done = run_import("megatron", str(tmp_path / "trace"), "--out", str(run))
    assert "3 steps, 2 snapshots, 288 tokens, 3 MoE layers x 8 experts, top-2" in done.stdout
    kinds = check_run(run)
    assert kinds == {"start": 1, "step": 3, "snapshot": 2, "done": 1}
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"] == {"router": "recorded", "experts": 8, "topK": 2}
    assert manifest["domains"] == ["rank 0", "rank 1"]
    assert manifest["imported"]["producer"] == "Megatron-Core" and manifest["imported"]["ranks"] == 2
    assert "12 multi-token-prediction (mtp) records left out" in manifest["imported"]["notes"]
    steps = [e for e in events(run) if e["kind"] == "step"]
    assert [e["step"] for e in steps] == [10, 11, 12]
    for e in steps:
        assert e["tokens"] == 2 * 2 * 24  # ranks x micro-batches x tokens
        for layer in e["layers"]:
            calls = truth.of(e["step"], layer["layer"])
            per_rank = np.stack([np.bincount(np.concatenate([c.indices.ravel() for c in calls if c.rank == r]),
                                             minlength=8) for r in range(2)])
            total = per_rank.sum(axis=0)
            assert all(close(a, b) for a, b in zip(layer["load"], total / total.sum()))
            for r in range(2):
                assert all(close(a, b) for a, b in zip(layer["rank_loads"][r], per_rank[r] / per_rank[r].sum()))
            assert close(layer["cv"], float(total.std() / total.mean()))
            assert close(layer["max_vio"], float(total.max() / total.mean() - 1))
            q = np.quantile(total / total.sum(), [0.5, 0.9, 0.99, 1.0])
            assert all(close(layer["load_quantiles"][n], float(v)) for n, v in zip(("p50", "p90", "p99", "max"), q))
            h = np.concatenate([entropy_bits(c.logits) for c in calls])
            assert abs(layer["entropy"] - float(h.mean())) < 1e-5
        assert close(e["cv_mean"], sum(l["cv"] for l in e["layers"]) / 3)
    assert "probe experts ordered best first by the traced logits" in " ".join(manifest["imported"]["notes"])
    # Skewed logits: expert 0 carries the most load, as the records say.
    assert max(range(8), key=lambda x: steps[0]["layers"][0]["load"][x]) == 0
    # Snapshots at the first and the last step; the probe holds every traced token of the step in rank
    # order, micro-batches in order, with the experts (best first by the logits), logits and bf16 router
    # inputs exactly.
    snaps = sorted((run / "snapshots").glob("*.probe.safetensors"))
    assert [p.name for p in snaps] == ["step-00000010.probe.safetensors", "step-00000012.probe.safetensors"]
    for snap, step, base in ((snaps[0], 10, 0), (snaps[1], 12, 192)):
        t = probe_tensors(snap)
        assert list(t["tokens"]) == list(range(base, base + 96))  # ordinals: no token ids were recorded
        assert list(t["domains"]) == [0] * 48 + [1] * 48
        assert list(t["documents"]) == [0] * 24 + [1] * 24 + [2] * 24 + [3] * 24
        for layer in (0, 1, 2):
            calls = sorted(truth.of(step, layer), key=lambda c: (c.rank, c.micro))
            assert np.array_equal(t[f"layers.{layer}.experts"], best_first(calls))
            assert np.array_equal(t[f"layers.{layer}.logits"], np.concatenate([c.logits for c in calls]))
            assert np.array_equal(t[f"layers.{layer}.hidden"], np.concatenate([c.hidden for c in calls]))
    with safe_open(str(run / "snapshots" / "step-00000012.safetensors"), framework="np") as f:
        meta = f.metadata()
        assert list(f.keys()) == []
    assert meta["idamoe.router"] == "recorded" and meta["idamoe.moe_layers"] == "0,1,2" and meta["idamoe.step"] == "12"

    # idamoe route reads the decisions as recorded: token-major JSON lines with each token's experts.
    snap12 = str(run / "snapshots" / "step-00000012.safetensors")
    routed = idamoe("route", "--checkpoint", snap12, "--probe", str(snaps[1]), "--jsonl", "--layer", "1")
    assert routed.returncode == 0, routed.stderr
    lines = [json.loads(x) for x in routed.stdout.splitlines()]
    want = best_first(sorted(truth.of(12, 1), key=lambda c: (c.rank, c.micro)))
    assert [l["experts"] for l in lines] == want.tolist()
    h = np.concatenate([entropy_bits(c.logits) for c in sorted(truth.of(12, 1), key=lambda c: (c.rank, c.micro))])
    assert all(abs(l["entropy_bits"] - x) < 1e-4 for l, x in zip(lines, h))
    # diff: a step against itself agrees everywhere; two steps hold different tokens and are refused.
    same = idamoe("diff", f"{run}@12", f"{run}@12", "--json")
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["a"]["imported"] == {"producer": "Megatron-Core", "records": "router trace"}
    assert all(l["agreement"]["raw"]["top1"] == 1 for l in report["layers"])
    other = idamoe("diff", f"{run}@10", f"{run}@12")
    assert other.returncode != 0 and "hold different tokens" in other.stderr and "imports" in other.stderr


# megatron-core's own RouterTracer, as megatron/training/training.py drives it: one process per rank
# (forked after the import), init_moe_router_tracer in training mode with both sidecars and the router
# weights, register_hooks on a model whose routers are TopKRouters, advance_step(iteration) after each
# iteration's micro-batches, the last files written by the tracer's own atexit flush. The routers'
# gate is megatron_records' linear gate: TopKRouter's own needs a GPU and process groups.
MEGATRON_PATH = os.environ.get("IDAMOE_MEGATRON_PATH") or str(REPO / ".megatron-core")
MEGATRON_WRITER = r"""
import json, os, sys, traceback, types
from importlib.metadata import version
import torch
torch.set_num_threads(1)
from megatron.core.transformer.moe import router_trace
from megatron.core.transformer.moe.router import TopKRouter
from megatron_records import gate_logits, routing_map

spec, out = json.load(open(sys.argv[1])), sys.argv[2]
torch.cuda.is_current_stream_capturing = lambda: False  # the hook asks before it records; no CUDA here


class LinearRouter(TopKRouter):
    # What a TopKRouter in training hands the tracer: gating() the logits, forward() the probabilities
    # and the boolean routing map.
    def __init__(self, weight):
        torch.nn.Module.__init__(self)
        self.weight = torch.nn.Parameter(weight)
        self.expert_bias = None
        self.topk = spec["topk"]
        self.config = types.SimpleNamespace(moe_router_score_function="softmax")

    def gating(self, input):
        return gate_logits(input, self.weight.detach())

    def routing(self, logits):
        chosen = routing_map(logits, self.topk)
        return torch.softmax(logits.float(), dim=-1) * chosen, chosen

    def forward(self, input):
        return self.routing(self.gating(input.reshape(-1, input.shape[-1])))


def layer(weight):
    block = torch.nn.Module()
    block.mlp = torch.nn.Module()
    block.mlp.router = LinearRouter(torch.tensor(weight))
    return block


model = torch.nn.Module()
model.decoder = torch.nn.Module()
model.decoder.layers = torch.nn.ModuleList([layer(spec["gates"][str(i)]) for i in range(spec["layers"])])
model.mtp = torch.nn.Module()
model.mtp.layers = torch.nn.ModuleList([torch.nn.Module()])
model.mtp.layers[0].mtp_model_layer = layer(spec["gates"]["-1"])


def router(i):
    return model.decoder.layers[i].mlp.router if i >= 0 else model.mtp.layers[0].mtp_model_layer.mlp.router


def train(rank):
    router_trace.init_moe_router_tracer(out, max_steps=len(spec["steps"]), rank=rank, training_mode=True,
                                        capture_hidden_states=True, capture_logits=True, dump_router_weights=True)
    tracer = router_trace.get_moe_router_tracer()
    tracer.register_hooks(model)
    calls = [c for c in spec["calls"] if c["rank"] == rank]
    for step in spec["steps"]:
        for c in calls:
            if c["step"] == step:  # micro-batch by micro-batch, the decoder's routers then the MTP head's
                router(c["layer"])(torch.tensor(c["hidden"]).unsqueeze(1))  # [sequence, batch 1, D]
        tracer.advance_step(step)
    for c in calls[:4]:  # an iteration past --moe-routing-trace-max-training-iters: not traced
        router(c["layer"])(torch.tensor(c["hidden"]).unsqueeze(1))


for rank in range(spec["ranks"]):
    pid = os.fork()
    if pid == 0:
        try:
            train(rank)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        sys.exit(0)  # the interpreter's exit runs the tracer's atexit flush
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"rank {rank} failed")
print(version("megatron-core"))  # (megatron.core.__version__ appends the hash of a git tree it lies in)
"""
OWN_TRACE: Dict[str, Any] = dict(ranks=2, layers=(0, 1, 2), experts=8, topk=2, width=16, steps=(7, 8, 9), micro=2,
                                 tokens=20, seed=3)


def own_trace_spec() -> Dict[str, Any]:
    """The decisions the tracer is to record: the gates and every router call's hidden states."""
    with tempfile.TemporaryDirectory() as scratch:
        truth = write_trace(scratch, **OWN_TRACE)
    calls = [{"rank": c.rank, "step": c.step, "layer": c.layer if c.block == "decoder" else -1,
              "hidden": c.hidden.tolist()} for c in truth.calls if c.hidden is not None]
    return {"ranks": OWN_TRACE["ranks"], "layers": len(OWN_TRACE["layers"]), "topk": OWN_TRACE["topk"],
            "steps": list(OWN_TRACE["steps"]), "gates": {str(k): v.tolist() for k, v in truth.gates.items()},
            "calls": calls}


MEGATRON_OWN = start_writer(sys.executable, MEGATRON_WRITER, "trace", own_trace_spec(), "own",
                            path=[MEGATRON_PATH, str(REPO / "Tests" / "python")])


def test_megatrons_own_router_tracer_writes_these_records_and_they_import_alike(tmp_path: Path, capsys: Any) -> None:
    assert MEGATRON_OWN is not None, (f"megatron-core 0.19.2 not found at {MEGATRON_PATH}: scripts/setup unpacks it "
                                      "there (or set IDAMOE_MEGATRON_PATH)")
    proc, scratch = MEGATRON_OWN
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout.split()[-1] == "0.19.2"
    own, fixture = scratch / "own", tmp_path / "fixture"
    truth = write_trace(str(fixture), **OWN_TRACE)
    # The tracer's files are the fixture's, line for line and byte for byte.
    for r in range(2):
        mine = (fixture / f"router_trace_rank{r}.jsonl").read_text().splitlines()
        theirs = (own / f"router_trace_rank{r}.jsonl").read_text().splitlines()
        assert len(theirs) == len(mine) == 3 * 2 * 4
        for n, (a, b) in enumerate(zip(theirs, mine)):
            assert a == b, f"rank {r} line {n + 1}: the tracer wrote\n{a[:300]}\nthe fixture\n{b[:300]}"
        for name in (f"hidden_states_rank{r}.bin", f"logits_rank{r}.bin"):
            assert (own / name).read_bytes() == (fixture / name).read_bytes(), name
        state = torch.load(str(own / f"router_state_rank{r}.pt"), weights_only=True)
        assert set(state) == {("decoder", None, 0), ("decoder", None, 1), ("decoder", None, 2), ("mtp", 0, 0)}
        for (block, _, layer), value in state.items():
            assert np.array_equal(value["weight"].numpy(), truth.gates[layer if block == "decoder" else -1])
            assert value["expert_bias"] is None and value["score_function"] == "softmax" and value["topk"] == 2
    # Both import to the same run, whose loads and probes are the decisions written.
    runs = {}
    for name, src in (("own", own), ("fixture", fixture)):
        done = import_in_process(capsys, "megatron", str(src), "--out", str(tmp_path / f"run-{name}"))
        assert done.returncode == 0, done.stderr
        runs[name] = tmp_path / f"run-{name}"
    assert check_run(runs["own"]) == {"start": 1, "step": 3, "snapshot": 2, "done": 1}
    manifests = {k: json.loads((v / "run.json").read_text()) for k, v in runs.items()}
    assert manifests["own"]["model"] == manifests["fixture"]["model"] == {"router": "recorded", "experts": 8, "topK": 2}
    assert manifests["own"]["imported"]["notes"] == manifests["fixture"]["imported"]["notes"]
    steps = {k: [e for e in events(v) if e["kind"] == "step"] for k, v in runs.items()}
    assert [e["layers"] for e in steps["own"]] == [e["layers"] for e in steps["fixture"]]
    for e in steps["own"]:
        for layer in e["layers"]:
            counts = np.bincount(np.concatenate([c.indices.ravel() for c in truth.of(e["step"], layer["layer"])]),
                                 minlength=8)
            assert all(close(a, b) for a, b in zip(layer["load"], counts / counts.sum()))
    snaps = sorted(p.name for p in (runs["own"] / "snapshots").iterdir())
    assert snaps == sorted(p.name for p in (runs["fixture"] / "snapshots").iterdir())
    assert "step-00000009.probe.safetensors" in snaps
    for name in snaps:
        if name.endswith(".probe.safetensors"):
            a, b = probe_tensors(runs["own"] / "snapshots" / name), probe_tensors(runs["fixture"] / "snapshots" / name)
            assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), name
            step = int(name[5:13])
            for layer in (0, 1, 2):
                calls = sorted(truth.of(step, layer), key=lambda c: (c.rank, c.micro))
                assert np.array_equal(a[f"layers.{layer}.experts"], best_first(calls))
                assert np.array_equal(a[f"layers.{layer}.hidden"], np.concatenate([c.hidden for c in calls]))


def test_without_logits_the_probe_keeps_the_traces_order_and_says_it_is_not_best_first(tmp_path: Path,
                                                                                       capsys: Any) -> None:
    truth = write_trace(str(tmp_path / "trace"), steps=(4,), logits=False, hidden=False, mtp=False)
    done = import_in_process(capsys, "megatron", str(tmp_path / "trace"), "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    notes = json.loads((tmp_path / "run" / "run.json").read_text())["imported"]["notes"]
    assert any("by index, not best first" in n for n in notes), notes
    t = probe_tensors(tmp_path / "run" / "snapshots" / "step-00000004.probe.safetensors")
    for layer in (0, 1, 2):
        calls = sorted(truth.of(4, layer), key=lambda c: (c.rank, c.micro))
        assert np.array_equal(t[f"layers.{layer}.experts"], np.concatenate([c.indices for c in calls]))
        assert f"layers.{layer}.logits" not in t and f"layers.{layer}.hidden" not in t


def test_fit_ida_and_diff_work_on_the_traced_router_inputs(tmp_path: Path) -> None:
    write_trace(str(tmp_path / "trace"), steps=(5,), tokens=64, layers=(0, 1))
    run = tmp_path / "run"
    run_import("megatron", str(tmp_path / "trace"), "--out", str(run))
    probe = run / "snapshots" / "step-00000005.probe.safetensors"
    fitted = tmp_path / "ida.safetensors"
    fit = subprocess.run([sys.executable, "-m", "idamoe_torch", "fit-ida", "--probe", str(probe), "--experts", "4",
                          "--components", "2", "--latent", "4", "--hidden", "8", "--steps", "30",
                          "--out", str(fitted), "--threads", "1"], capture_output=True, text=True, env=ENV, cwd=REPO,
                         timeout=300)
    assert fit.returncode == 0, fit.stderr
    # The Megatron router's recorded choices against the IDA routers fitted to the same hidden states.
    diff = idamoe("diff", f"{run}@5", str(fitted), "--probe", str(probe), "--json")
    assert diff.returncode == 0, diff.stderr
    report = json.loads(diff.stdout)
    assert report["basis"] == "shared-probe" and [l["layer"] for l in report["layers"]] == [0, 1]
    assert report["a"]["router"] == "recorded" and report["b"]["router"] == "ida"
    assert all(l["tokens"] == 256 for l in report["layers"])


def test_a_dumped_sigmoid_router_state_sets_E_and_the_entropy_of_s_over_sum_s(tmp_path: Path) -> None:
    truth = write_trace(str(tmp_path / "trace"), steps=(1,), experts=6, mtp=False)
    state = {("decoder", None, 0): {"weight": torch.zeros(6, 16), "expert_bias": torch.zeros(6),
                                    "score_function": "sigmoid", "topk": 2}}
    torch.save(state, str(tmp_path / "trace" / "router_state_rank0.pt"))
    run = tmp_path / "run"
    run_import("megatron", str(tmp_path / "trace"), "--out", str(run))
    assert json.loads((run / "run.json").read_text())["model"]["experts"] == 6
    layer = next(e for e in events(run) if e["kind"] == "step")["layers"][0]
    s = 1 / (1 + np.exp(-np.concatenate([c.logits for c in truth.of(1, 0)]).astype(np.float64)))
    q = s / s.sum(axis=1, keepdims=True)
    assert abs(layer["entropy"] - float((-(q * np.log2(q)).sum(axis=1)).mean())) < 1e-5


class Gadget:
    """Anything but plain tensors: torch.load(weights_only=True) must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/idamoe-pwned",))


def _no_run(parent: Path, name: str) -> bool:
    return not (parent / name).exists() and not any(p.name.startswith(f".{name}.import-") for p in parent.iterdir())


@pytest.mark.parametrize("damage, message", [
    ("truncated-middle", "router_trace_rank0.jsonl:3: not a JSON line"),
    ("torn-last", "the last line is cut off"),
    ("missing-rank", "router_trace_rank1.jsonl is missing"),
    ("other-version", "no field 'top_indices'"),
    ("wrong-shape", "top_indices has shape [2, 2], num_tokens and topk say [24, 2]"),
    ("experts-too-few", "is not below E = 3"),
    ("short-sidecar", "truncated sidecar"),
    ("pickle", "not a file of plain tensors"),
    ("empty", "holds no router_trace_rank"),
])
def test_bad_records_give_one_line_and_leave_nothing(tmp_path: Path, capsys: Any, damage: str, message: str) -> None:
    src = tmp_path / "trace"
    write_trace(str(src), ranks=3 if damage == "missing-rank" else 2, steps=(1, 2), mtp=False)
    extra: List[str] = []
    trace0 = src / "router_trace_rank0.jsonl"
    lines = trace0.read_text().splitlines(keepends=True)
    if damage == "truncated-middle":
        lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
        trace0.write_text("".join(lines))
    elif damage == "torn-last":
        trace0.write_text("".join(lines)[:-40])
    elif damage == "missing-rank":
        (src / "router_trace_rank1.jsonl").unlink()
    elif damage == "other-version":
        rec = json.loads(lines[4])
        rec["indices"] = rec.pop("top_indices")
        lines[4] = json.dumps(rec) + "\n"
        trace0.write_text("".join(lines))
    elif damage == "wrong-shape":
        rec = json.loads(lines[1])
        rec["top_indices"] = rec["top_indices"][:2]
        lines[1] = json.dumps(rec) + "\n"
        trace0.write_text("".join(lines))
    elif damage == "experts-too-few":
        extra = ["--experts", "3"]
    elif damage == "short-sidecar":
        data = (src / "hidden_states_rank1.bin").read_bytes()
        (src / "hidden_states_rank1.bin").write_bytes(data[: len(data) // 3])
    elif damage == "pickle":
        torch.save({"state": Gadget()}, str(src / "router_state_rank0.pt"))
    elif damage == "empty":
        for p in src.glob("router_trace_rank*.jsonl"):
            p.unlink()
    done = import_in_process(capsys, "megatron", str(src), "--out", str(tmp_path / "run"), *extra)
    assert done.returncode == 1, done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _no_run(tmp_path, "run")
    assert not os.path.exists("/tmp/idamoe-pwned")


def test_an_empty_directory_given_as_out_stays_empty_when_the_import_fails(tmp_path: Path, capsys: Any) -> None:
    src = tmp_path / "trace"
    write_trace(str(src), steps=(1,))
    (src / "router_trace_rank1.jsonl").write_text("{\n")
    (tmp_path / "run").mkdir()
    done = import_in_process(capsys, "megatron", str(src), "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and list((tmp_path / "run").iterdir()) == []
    done = import_in_process(capsys, "megatron", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and "not a directory" in done.stderr
    inside = import_in_process(capsys, "megatron", str(src), "--out", str(src / "run"))
    assert inside.returncode == 1 and "inside SRC" in inside.stderr


def test_tokens_per_expert_logs_sum_micro_batches_and_place_expert_parallel_ranks(tmp_path: Path) -> None:
    truth = write_tpe(str(tmp_path / "save"), ranks=4, local=4)
    done = run_import("megatron", str(tmp_path / "save"), "--out", str(tmp_path / "run"), check=False)  # the CLI's status
    assert done.returncode == 1 and "give --top-k K" in done.stderr
    # Four ranks, expert parallel 2: ranks 0 and 2 hold experts 0-3, ranks 1 and 3 experts 4-7.
    run_import("megatron", str(tmp_path / "save"), "--out", str(tmp_path / "run"), "--top-k", "2", "--ep", "2")
    check_run(tmp_path / "run")
    steps = [e for e in events(tmp_path / "run") if e["kind"] == "step"]
    assert [e["step"] for e in steps] == [99, 199]
    for e in steps:
        for layer in e["layers"]:
            total = np.zeros(8)
            for r in range(4):
                start = (r % 2) * 4
                total[start:start + 4] += truth[(e["step"], r, layer["layer"])].sum(axis=0)
                rank_load = np.zeros(8)
                rank_load[start:start + 4] = truth[(e["step"], r, layer["layer"])].sum(axis=0)
                assert all(close(a, b) for a, b in zip(layer["rank_loads"][r], rank_load / rank_load.sum()))
            assert all(close(a, b) for a, b in zip(layer["load"], total / total.sum()))
        assert e["tokens"] == int(max(sum(truth[(e["step"], r, l)].sum() for r in range(4)) for l in (1, 3))) // 2
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["model"]["experts"] == 8 and manifest["imported"]["records"] == "tokens per expert"
    assert not list((tmp_path / "run" / "snapshots").iterdir())  # no per-token records, no snapshot


def test_follow_converts_as_the_trainer_appends_and_ctrl_c_keeps_every_step(tmp_path: Path) -> None:
    src = tmp_path / "trace"
    write_trace(str(src), steps=(1,), mtp=False)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "idamoe_torch", "import", "megatron", str(src), "--out", str(run),
                             "--follow", "--experts", "8", "--snapshot-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    try:
        def steps() -> List[int]:
            path = run / "events.jsonl"
            return [e["step"] for e in events(run) if e["kind"] == "step"] if path.exists() else []

        def wait(predicate, seconds: float = 20.0) -> None:
            deadline = time.monotonic() + seconds
            while not predicate():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, steps()
                time.sleep(0.1)

        wait(lambda: steps() == [1])  # the only step, once the files went idle
        # The trainer appends two more steps (a second trace written to the same schema, appended).
        more = tmp_path / "more"
        write_trace(str(more), steps=(2, 3), mtp=False, seed=1)
        for r in range(2):
            with open(src / f"router_trace_rank{r}.jsonl", "a") as f:
                offset = (src / f"hidden_states_rank{r}.bin").stat().st_size
                loffset = (src / f"logits_rank{r}.bin").stat().st_size
                for line in (more / f"router_trace_rank{r}.jsonl").read_text().splitlines():
                    rec = json.loads(line)
                    rec["hs_offset"] += offset
                    rec["logit_offset"] += loffset
                    f.write(json.dumps(rec) + "\n")
            for kind in ("hidden_states", "logits"):
                with open(src / f"{kind}_rank{r}.bin", "ab") as f:
                    f.write((more / f"{kind}_rank{r}.bin").read_bytes())
        wait(lambda: steps() == [1, 2, 3])
        assert (run / "snapshots" / "step-00000003.safetensors").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "3 steps" in out and "stopped" in out
    kinds = check_run(run)
    assert "done" not in kinds and kinds["step"] == 3
    routed = idamoe("route", "--checkpoint", str(run / "snapshots" / "step-00000003.safetensors"),
                    "--probe", str(run / "snapshots" / "step-00000003.probe.safetensors"))
    assert routed.returncode == 0, routed.stderr


@pytest.mark.parametrize("text", [b"[[1,2],[3,4]]", b"[[1, 2], [3, 4]]", b"[[1],[2],[3]]", b"[[-1,5]]", b"[]", b"[[7]]",
                                  b"[[1,2,3],[4]]", b"[[1,2],[3,4,5]]", b"[[]]", b"[[1,,2]]", b"[[1-2,3]]", b"[[-,1]]",
                                  b"[[1,2],3]", b"[[1,2]][[3,4]]", b"[[1,2],,[3,4]]", b"[[1,2][3,4]]", b"[[--1,2]]",
                                  b"[[9999999999999999999999,1]]", b"[[1,\n2]]"])
def test_the_integer_table_fast_path_reads_exactly_what_json_reads_or_leaves_it_to_json(text: bytes) -> None:
    from idamoe_torch.jsonlines import int_table

    table = int_table(text)
    try:
        parsed = json.loads(text)
        expected = np.array(parsed, dtype=np.int64) if parsed != [[]] else None
    except (ValueError, OverflowError):
        expected = None
    if table is not None:  # whatever the fast path accepts, json reads as the same table
        assert expected is not None and np.array_equal(table.reshape(expected.shape), expected)
    elif expected is not None:  # declined: json reads it (a real table the fast path leaves to json)
        assert text in (b"[[]]", b"[[9999999999999999999999,1]]", b"[[1,\n2]]")


def test_json_lines_wait_for_a_torn_line_and_read_it_once_complete(tmp_path: Path) -> None:
    from idamoe_torch.jsonlines import JsonLines

    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"top_indices": [[1, 2], [3, 4]], "b"')
    reader = JsonLines(str(path), tables=("top_indices",))
    assert list(reader.lines()) == [(1, {"a": 1})] and reader.torn
    with open(path, "ab") as f:
        f.write(b': 2}\n\n{"top_indices": [[5]]}\n')
    got = list(reader.lines())
    assert [n for n, _ in got] == [2, 4] and got[0][1]["b"] == 2
    assert got[0][1]["top_indices"].tolist() == [[1, 2], [3, 4]] and got[1][1]["top_indices"].tolist() == [[5]]
    assert not reader.torn
    reader.finish()
