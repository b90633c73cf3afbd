"""`python -m idamoe_torch import sglang`: SGLang's expert-distribution dumps (per_token, per_pass, stat)
and the routed experts of its responses become runs that `idamoe route`, `diff` and `inspect` read, with
loads, rank loads, probes and the physical-to-logical mapping checked against the decisions the fixtures
were written from.

The fixtures follow sglang 0.5.23's python/sglang/srt/eplb/expert_distribution.py
(`_DetailSinglePassGatherer`, `_DetailAccumulator.dump`, `_StatAccumulator.dump`, `_dump_to_file`) and
its response fields (`meta_info["routed_experts"]`: base64 of int32 [tokens, layers, top-k]). One test
has SGLang's own recorder write the dumps (its runtime context stubbed, on the CPU), another its
routed-experts capturer and completion server write responses: they run in the interpreter of
$IDAMOE_SGLANG_PYTHON (default .venv-sglang/bin/python, which scripts/setup installs) and fail, never
skip, when that is missing. They are started when this module is collected, so that SGLang's import
(seconds) overlaps the other tests.
"""
from __future__ import annotations

import base64
import json
import math
import os
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
from safetensors import safe_open

from peer_writers import start_writer
from binary_support import REPO, idamoe_binary
from test_contract import check_run

ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "python")}
SGLANG_PYTHON = os.environ.get("IDAMOE_SGLANG_PYTHON") or str(REPO / ".venv-sglang" / "bin" / "python")
FORWARD_MODES = ["extend", "decode", "mixed", "idle", "target verify", "draft extend", "prebuilt",
                 "split prefill", "dllm extend"]

# ----------------------------------------------------------------------------------------------
# running the command


def command(*args: str) -> List[str]:
    """`python -m idamoe_torch import ARGS` as a child process's argv."""
    return [sys.executable, "-m", "idamoe_torch", "import", *args]


def import_in_process(capsys: Any, *args: str) -> subprocess.CompletedProcess:
    """`python -m idamoe_torch import ARGS` through its main() in this interpreter: status, stdout and stderr."""
    from idamoe_torch.__main__ import main

    status = main(["import", *args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out.out, out.err)


def ok(capsys: Any, *args: str) -> str:
    done = import_in_process(capsys, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def idamoe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([idamoe_binary(), *args], capture_output=True, text=True, env=ENV, timeout=120)


def events(run: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def probe_tensors(path: Path) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    with safe_open(str(path), framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def shares(counts: np.ndarray) -> List[float]:
    return list(counts / counts.sum())


def close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(a, b))


def route_table(checkpoint: Path, probe: Path) -> Dict[int, List[float]]:
    """`idamoe route --json`'s top-k load: {layer: share of the assignments per expert}."""
    done = idamoe("route", "--checkpoint", str(checkpoint), "--probe", str(probe), "--json")
    assert done.returncode == 0, done.stderr
    return {l["layer"]: l["load"]["topk"] for l in json.loads(done.stdout)["layers"]}


def _no_run(parent: Path, name: str) -> bool:
    return not (parent / name).exists() and not any(p.name.startswith(f".{name}.import-") for p in parent.iterdir())


# ----------------------------------------------------------------------------------------------
# the decisions the fixtures are written from

LAYERS, EXPERTS, PHYSICAL, K = 3, 6, 8, 2
# Layer 0 is dense (no router: its rows stay -1); layers 1 and 2 place two experts twice (EPLB redundancy).
P2L = np.array([[0, 1, 2, 3, 4, 5, 0, 1], [0, 1, 2, 3, 4, 5, 2, 5], [0, 1, 2, 3, 4, 5, 0, 3]])


def scenario(seed: int = 0, ranks: int = 2, dumps: Sequence[Sequence[int]] = ((0, 1, 2), (3, 4, 5))) -> Dict[str, Any]:
    """Forward passes of every rank and dump: each token's logical experts per layer (skewed towards expert
    1), the physical slot each went to (a random replica), the pass's ids, mode and request lengths. One
    token of pass 1 on rank 0 has a padding slot (-1) at layer 2."""
    rng = np.random.default_rng(seed)
    prior = np.array([0.1, 0.4, 0.15, 0.15, 0.1, 0.1])
    out: Dict[str, Any] = {"p2l": P2L.tolist(), "dumps": []}
    for fids in dumps:
        dump = []
        for rank in range(ranks):
            passes = []
            for fid in fids:
                decode = fid % 3 == 2
                lens = None if decode else [int(x) for x in rng.integers(1, 5, size=2)]
                n = 3 if decode else sum(lens)
                logical = np.full((LAYERS, n, K), -1, dtype=np.int64)
                physical = np.full((LAYERS, n, K), -1, dtype=np.int64)
                for layer in (1, 2):
                    for t in range(n):
                        chosen = rng.choice(EXPERTS, size=K, replace=False, p=prior)
                        logical[layer, t] = chosen
                        for j, e in enumerate(chosen):
                            physical[layer, t, j] = rng.choice(np.flatnonzero(P2L[layer] == e))
                if fid == 1 and rank == 0:
                    logical[2, 0] = physical[2, 0] = -1
                passes.append({"fid": fid, "rank": rank, "mode": 2 if decode else 1, "lens": lens,
                               "ids": [int(x) for x in rng.integers(0, 50_000, size=n)],
                               "logical": logical.tolist(), "physical": physical.tolist()})
            dump.append(passes)
        out["dumps"].append(dump)
    return out


def token_record(p: Dict[str, Any]) -> Dict[str, Any]:
    """One pass as `_DetailAccumulator.append` stores a `_DetailSinglePassGatherer.collect()`."""
    physical = np.array(p["physical"], dtype=np.int64)
    n = physical.shape[1]
    topk = torch.full((LAYERS, n, 8), -1, dtype=torch.int32)
    topk[:, :, :K] = torch.from_numpy(physical).to(torch.int32)
    count = torch.zeros((LAYERS, PHYSICAL), dtype=torch.int32)
    for layer in range(LAYERS):
        ids = physical[layer][physical[layer] >= 0]
        count[layer] = torch.from_numpy(np.bincount(ids, minlength=PHYSICAL)).to(torch.int32)
    return {"forward_pass_id": p["fid"], "rank": p["rank"], "gatherer_key": "primary", "input_ids": list(p["ids"]),
            "positions": list(range(n)), "extend_seq_lens": p["lens"], "forward_mode": p["mode"],
            "topk_ids_of_layer": topk, "misc_objects": [], "global_physical_count": count}


def write_detail(out: Path, sc: Dict[str, Any], mode: str = "per_token") -> None:
    """expert_distribution_recorder_{time}_{rank}.pt per dump and rank, as `_DetailAccumulator.dump` writes."""
    out.mkdir(parents=True, exist_ok=True)
    for d, dump in enumerate(sc["dumps"]):
        for passes in dump:
            records = [token_record(p) for p in passes]
            if mode == "per_pass":
                records = [{k: r[k] for k in ("forward_pass_id", "rank", "gatherer_key", "global_physical_count")}
                           for r in records]
            torch.save({"records": records, "last_physical_to_logical_map": torch.tensor(sc["p2l"])},
                       str(out / f"expert_distribution_recorder_{1796000000.25 + d}_{passes[0]['rank']}.pt"))


def write_stat(out: Path, sc: Dict[str, Any], buffer: int = 8) -> None:
    """expert_distribution_recorder_{time}.pt per dump, as `_StatAccumulator.dump` writes it: one rank's
    passes in a ring buffer of `buffer` rows whose unused rows stay zero; a new recording zeroes the rows
    but keeps the ring's write position (`_CircularBuffer.reset`)."""
    out.mkdir(parents=True, exist_ok=True)
    position = 0
    for d, dump in enumerate(sc["dumps"]):
        rows = torch.zeros((buffer, LAYERS, EXPERTS), dtype=torch.int32)
        for p in dump[0]:
            logical = np.array(p["logical"])
            for layer in range(LAYERS):
                rows[position, layer] = torch.from_numpy(np.bincount(logical[layer][logical[layer] >= 0], minlength=EXPERTS))
            position = (position + 1) % buffer
        torch.save({"rank": 0, "logical_count": rows, "average_utilization_rate_over_window": None},
                   str(out / f"expert_distribution_recorder_{1796000000.5 + d}.pt"))


def truth_counts(sc: Dict[str, Any], fids: Sequence[int], rank: Optional[int] = None) -> Dict[int, np.ndarray]:
    """Assignments per logical expert of layers 1 and 2 over the passes `fids` (of one rank, or all)."""
    counts = {layer: np.zeros(EXPERTS, dtype=np.int64) for layer in (1, 2)}
    for dump in sc["dumps"]:
        for passes in dump:
            for p in passes:
                if p["fid"] in fids and (rank is None or p["rank"] == rank):
                    logical = np.array(p["logical"])
                    for layer in (1, 2):
                        counts[layer] += np.bincount(logical[layer][logical[layer] >= 0], minlength=EXPERTS)
    return counts


# ----------------------------------------------------------------------------------------------


def test_per_token_dumps_of_two_ranks_become_steps_snapshots_and_probes(tmp_path: Path, capsys: Any) -> None:
    sc = scenario()
    write_detail(tmp_path / "dumps", sc)
    run = tmp_path / "run"
    out = ok(capsys, "sglang", str(tmp_path / "dumps"), "--out", str(run), "--group", "4", "--probe-tokens", "10")
    passes = {fid: [p for dump in sc["dumps"] for ranks in dump for p in ranks if p["fid"] == fid] for fid in range(6)}
    tokens = {fid: sum(len(p["ids"]) for p in ps) for fid, ps in passes.items()}
    assert f"2 steps, 2 snapshots, {sum(tokens.values())} tokens, 2 MoE layers x 6 experts, top-2" in out
    assert check_run(run) == {"start": 1, "step": 2, "snapshot": 2, "done": 1}
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"] == {"router": "recorded", "experts": 6, "topK": 2}
    assert manifest["domains"] == FORWARD_MODES
    imported = manifest["imported"]
    assert (imported["producer"], imported["records"], imported["ranks"], imported["tokens"]) == \
        ("SGLang", "expert distribution (per_token)", 2, "token ids")
    assert imported["source"] == str(tmp_path / "dumps")
    assert "layers 0 routed no token in the first dump: dense layers, left out" in imported["notes"]
    assert any(n.startswith("1 tokens with a padding slot (-1)") for n in imported["notes"])
    # Steps hold forward passes 0-3 (the group spans the two dumps) and 4-5; loads are the logical experts
    # the slots stand for (slot 6 of layer 1 is expert 2, slot 7 of layer 2 expert 3), padding ignored.
    steps = [e for e in events(run) if e["kind"] == "step"]
    assert [e["step"] for e in steps] == [0, 4]
    for e, fids in zip(steps, ((0, 1, 2, 3), (4, 5))):
        assert e["tokens"] == sum(tokens[f] for f in fids)
        total = truth_counts(sc, fids)
        assert [l["layer"] for l in e["layers"]] == [1, 2]
        for layer in e["layers"]:
            assert close(layer["load"], shares(total[layer["layer"]]))
            for r in range(2):
                assert close(layer["rank_loads"][r], shares(truth_counts(sc, fids, rank=r)[layer["layer"]]))
            c = total[layer["layer"]].astype(float)
            assert math.isclose(layer["cv"], c.std() / c.mean(), rel_tol=1e-5)
            assert math.isclose(layer["max_vio"], c.max() / c.mean() - 1, rel_tol=1e-5)
            q = np.quantile(c / c.sum(), [0.5, 0.9, 0.99, 1.0])
            assert [layer["load_quantiles"][n] for n in ("p50", "p90", "p99", "max")] == pytest.approx(q.tolist(), abs=1e-6)
    # Expert 1 is the most chosen, as the decisions say.
    assert max(range(6), key=lambda x: steps[0]["layers"][0]["load"][x]) == 1
    # The probe of step 0: each rank's first 5 complete tokens (rank order, passes in order), their ids,
    # the pass's forward mode as domain and the request (extend_seq_lens; one per token when decoding)
    # as document.
    t, meta = probe_tensors(run / "snapshots" / "step-00000000.probe.safetensors")
    assert json.loads(meta["idamoe.vocab"]) == [] and json.loads(meta["idamoe.domain_names"]) == FORWARD_MODES
    want_ids: List[int] = []
    want = {1: [], 2: []}
    want_domains: List[int] = []
    want_requests: List[Tuple[int, int, int]] = []
    for rank in range(2):
        taken = 0
        for fid in (0, 1, 2, 3):
            p = next(x for x in passes[fid] if x["rank"] == rank)
            logical = np.array(p["logical"])
            requests = np.repeat(np.arange(len(p["lens"])), p["lens"]) if p["lens"] else np.arange(len(p["ids"]))
            for i in range(len(p["ids"])):
                if taken < 5 and (logical[1:, i] >= 0).all():
                    want_ids.append(p["ids"][i])
                    for layer in (1, 2):
                        want[layer].append(logical[layer, i].tolist())
                    want_domains.append(p["mode"] - 1)
                    want_requests.append((rank, fid, int(requests[i])))
                    taken += 1
    want_docs = [sorted(set(want_requests), key=want_requests.index).index(r) for r in want_requests]
    assert t["tokens"].tolist() == want_ids
    assert t["layers.1.experts"].tolist() == want[1] and t["layers.2.experts"].tolist() == want[2]
    assert t["domains"].tolist() == want_domains and t["documents"].tolist() == want_docs
    assert "layers.0.experts" not in t
    # The last step's probe is written at the end (the default --snapshot-every does not reach it).
    assert (run / "snapshots" / "step-00000004.probe.safetensors").exists()
    # idamoe route reads the decisions as the probe holds them: its load table is the probe's.
    table = route_table(run / "snapshots" / "step-00000000.safetensors", run / "snapshots" / "step-00000000.probe.safetensors")
    for layer in (1, 2):
        counts = np.bincount(np.array(want[layer]).ravel(), minlength=6)
        assert close(table[layer], shares(counts))
    same = idamoe("diff", f"{run}@0", f"{run}@0", "--json")
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["a"]["imported"] == {"producer": "SGLang", "records": "expert distribution (per_token)"}
    assert [l["layer"] for l in report["layers"]] == [1, 2]
    assert all(l["agreement"]["raw"]["top1"] == 1 for l in report["layers"])
    other = idamoe("diff", f"{run}@0", f"{run}@4")
    assert other.returncode != 0 and "hold different tokens" in other.stderr


def test_per_pass_and_stat_dumps_give_loads_only(tmp_path: Path, capsys: Any) -> None:
    sc = scenario(seed=1)
    write_detail(tmp_path / "pass", sc, mode="per_pass")
    done = import_in_process(capsys, "sglang", str(tmp_path / "pass"), "--out", str(tmp_path / "r1"))
    assert done.returncode == 1 and "give --top-k K" in done.stderr and _no_run(tmp_path, "r1")
    ok(capsys, "sglang", str(tmp_path / "pass"), "--out", str(tmp_path / "r1"), "--top-k", "2", "--group", "3")
    assert check_run(tmp_path / "r1") == {"start": 1, "step": 2, "done": 1}
    manifest = json.loads((tmp_path / "r1" / "run.json").read_text())
    assert manifest["imported"]["records"] == "expert distribution (per_pass)" and manifest["imported"]["tokens"] == "not recorded"
    for e, fids in zip([e for e in events(tmp_path / "r1") if e["kind"] == "step"], ((0, 1, 2), (3, 4, 5))):
        total = truth_counts(sc, fids)
        for layer in e["layers"]:
            assert close(layer["load"], shares(total[layer["layer"]]))
            assert close(layer["rank_loads"][1], shares(truth_counts(sc, fids, rank=1)[layer["layer"]]))
        # Tokens from assignments: the most any MoE layer counted over k (the padded token counts at layer 1).
        assert e["tokens"] == sum(max(truth_counts(sc, (f,), rank=r)[l].sum() for l in (1, 2)) // 2
                                  for f in fids for r in range(2))
    assert not list((tmp_path / "r1" / "snapshots").iterdir())
    write_stat(tmp_path / "stat", sc)
    ok(capsys, "sglang", str(tmp_path / "stat"), "--out", str(tmp_path / "r2"), "--top-k", "2", "--group", "2")
    check_run(tmp_path / "r2")
    steps = [e for e in events(tmp_path / "r2") if e["kind"] == "step"]
    # Rank 0's six passes, two per step, the ring buffer's empty rows left out.
    assert [e["step"] for e in steps] == [0, 2, 4]
    for e, fids in zip(steps, ((0, 1), (2, 3), (4, 5))):
        total = truth_counts(sc, fids, rank=0)
        for layer in e["layers"]:
            assert close(layer["load"], shares(total[layer["layer"]])) and "rank_loads" not in layer
    notes = json.loads((tmp_path / "r2" / "run.json").read_text())["imported"]["notes"]
    assert "10 buffered passes with no routed token (slots never filled, or idle passes) left out" in notes


# SGLang's own recorder, driven as its model runner drives it: with_forward_pass, with_current_layer,
# on_select_experts (physical slots), then dump_record; its runtime context (server arguments, device)
# stubbed for the CPU.
# SGLang's modules without the sglang package's __init__, which loads the whole server (seconds).
SGLANG_WITHOUT_INIT = r"""
import importlib.util, sys, types
spec = importlib.util.find_spec("sglang")
package = types.ModuleType("sglang")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["sglang"] = package
"""

SGLANG_WRITER = SGLANG_WITHOUT_INIT + r"""
import json, os
import torch
import torch.distributed as dist
import sglang.srt.eplb.expert_distribution as ed
from sglang.srt.model_executor.forward_batch_info import ForwardMode
from sglang._version import __version__

sc, out = json.load(open(sys.argv[1])), sys.argv[2]
NS = types.SimpleNamespace
p2l = torch.tensor(sc["p2l"])
meta = NS(num_layers=p2l.shape[0], num_physical_experts=p2l.shape[1], num_local_physical_experts=p2l.shape[1],
          num_logical_experts=int(p2l.max()) + 1, physical_to_logical_map=p2l, ep_size=1)
ed.get_schedule = lambda: NS(chunked_prefill_size=16)
ed.get_device_namespace = lambda: NS(device="cpu")
ed.get_device = lambda: "cpu"
ed.reports_expert_balancedness = lambda: False
dist.init_process_group("gloo", init_method="file://" + os.path.join(out, "pg"), rank=0, world_size=1)
for mode in ("per_token", "per_pass", "stat"):
    os.makedirs(os.path.join(out, mode))
    os.environ["SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR"] = os.path.join(out, mode)
    moe = NS(expert_distribution_recorder_mode=mode, moe_a2a_backend="none", deepep_mode="auto",
             expert_distribution_recorder_buffer_size=8, expert_balancedness_report_mode="off",
             eplb_min_rebalancing_utilization_threshold=1.0, elastic_ep_backend=None)
    ed.get_exec = lambda: NS(moe=moe, overlap=NS(enable_two_batch_overlap=False))
    ranks = 1 if mode == "stat" else len(sc["dumps"][0])
    recorders = [ed._ExpertDistributionRecorderReal(meta, rank=r) for r in range(ranks)]
    for dump in sc["dumps"]:
        for r, rec in enumerate(recorders):
            rec.start_record()
            for p in dump[r]:
                batch = NS(input_ids=torch.tensor(p["ids"]), positions=torch.arange(len(p["ids"])),
                           extend_seq_lens_cpu=p["lens"], forward_mode=ForwardMode(p["mode"]))
                with rec.with_forward_pass(p["fid"], batch):
                    for layer in (1, 2):
                        with rec.with_current_layer(layer):
                            rec.on_select_experts(torch.tensor(p["physical"][layer], dtype=torch.int32))
            rec.stop_record()
            rec.dump_record()
print(__version__)
"""


SGLANG_OWN = start_writer(SGLANG_PYTHON, SGLANG_WRITER, "scenario", scenario(seed=2), "own")


def test_sglangs_own_recorder_writes_what_the_fixtures_do_and_it_imports(tmp_path: Path, capsys: Any) -> None:
    assert SGLANG_OWN is not None, (f"SGLang 0.5.23 not found at {SGLANG_PYTHON}: scripts/setup installs it in "
                                    ".venv-sglang (or set IDAMOE_SGLANG_PYTHON)")
    proc, scratch = SGLANG_OWN
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout.split()[-1] == "0.5.23"
    sc = scenario(seed=2)
    shutil.copytree(scratch / "own", tmp_path / "own")
    # The fixtures' writers produce exactly SGLang's dumps (all but the time in the names).
    write_detail(tmp_path / "mine", sc)

    def loaded(directory: Path) -> List[Any]:
        return [torch.load(p, weights_only=True) for p in sorted(directory.glob("*.pt"), key=lambda p: (p.name.split("_")[-1], p.name))]

    def same(a: Any, b: Any) -> bool:
        if torch.is_tensor(a) or torch.is_tensor(b):
            return torch.is_tensor(a) and torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b

    own, mine = loaded(tmp_path / "own" / "per_token"), loaded(tmp_path / "mine")
    assert len(own) == 4 and same(own, mine)
    write_stat(tmp_path / "mine-stat", sc)
    assert same(loaded(tmp_path / "own" / "stat"), loaded(tmp_path / "mine-stat"))
    # Each of SGLang's own dumps imports with the decisions it was given.
    for mode, extra in (("per_token", []), ("per_pass", ["--top-k", "2"]), ("stat", ["--top-k", "2"])):
        run = tmp_path / f"run-{mode}"
        ok(capsys, "sglang", str(tmp_path / "own" / mode), "--out", str(run), "--group", "6", *extra)
        step = next(e for e in events(run) if e["kind"] == "step")
        total = truth_counts(sc, range(6), rank=0 if mode == "stat" else None)
        assert [l["layer"] for l in step["layers"]] == [1, 2]
        for layer in step["layers"]:
            assert close(layer["load"], shares(total[layer["layer"]])), mode


def _response(prompt: List[int], output: List[int], rows: np.ndarray, **extra: Any) -> Dict[str, Any]:
    """A native /generate response with meta_info.routed_experts (base64 of int32s, as the detokenizer
    encodes them) and the prompt ids (return_prompt_token_ids)."""
    return {"text": "...", "output_ids": output, "prompt_token_ids": prompt,
            "meta_info": {"id": "r", "finish_reason": {"type": "length", "length": len(output)},
                          "prompt_tokens": len(prompt), "completion_tokens": len(output), "cached_tokens": 0,
                          "routed_experts": base64.b64encode(rows.astype("<i4").tobytes()).decode()}, **extra}


def responses(rng: np.random.Generator, count: int = 5, layers: int = 3) -> List[Tuple[List[int], List[int], np.ndarray]]:
    """(prompt, output, rows [tokens - 1, layers, 2]) per response; layer 1 is dense (zeros)."""
    out = []
    for _ in range(count):
        prompt = [int(x) for x in rng.integers(0, 20, size=int(rng.integers(2, 6)))]
        output = [int(x) for x in rng.integers(0, 20, size=int(rng.integers(1, 4)))]
        rows = np.zeros((len(prompt) + len(output) - 1, layers, 2), dtype=np.int64)
        for t in range(rows.shape[0]):
            for layer in (0, 2):
                rows[t, layer] = rng.choice(5, size=2, replace=False)
        out.append((prompt, output, rows))
    return out


def test_routed_experts_of_responses_become_documents_with_tokens_decoded(tmp_path: Path, capsys: Any) -> None:
    rng = np.random.default_rng(3)
    data = responses(rng)
    lines = [_response(p, o, r) for p, o, r in data[:4]]
    # The OpenAI-compatible server's form: sglext of the first choice.
    p, o, r = data[4]
    lines.append({"id": "x", "object": "text_completion", "model": "m",
                  "choices": [{"index": 0, "text": "...", "finish_reason": "length"}],
                  "usage": {"prompt_tokens": len(p), "completion_tokens": len(o), "total_tokens": len(p) + len(o)},
                  "sglext": {"routed_experts": base64.b64encode(r.astype("<i4").tobytes()).decode(),
                             "input_ids": p, "output_ids": [o]}})
    src = tmp_path / "responses.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    done = import_in_process(capsys, "sglang", str(src), "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and "give --top-k K" in done.stderr
    # A tokenizer of this directory (a word-level one, built here: nothing is downloaded).
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = {f"w{i}": i for i in range(20)}
    tok = Tokenizer(models.WordLevel(vocab=words, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok).save_pretrained(str(tmp_path / "tok"))
    run = tmp_path / "run"
    out = ok(capsys, "sglang", str(src), "--out", str(run), "--top-k", "2", "--group", "2", "--tokenizer", str(tmp_path / "tok"))
    n = [len(rows) for _, _, rows in data]
    assert f"3 steps, 2 snapshots, {sum(n)} tokens, 2 MoE layers x 5 experts, top-2 (SGLang routed experts)" in out
    check_run(run)
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["domains"] == ["prompt", "output"]
    assert manifest["imported"]["tokens"] == f"decoded with {tmp_path / 'tok'}"
    assert "layers 1 hold only zeros in the first request: dense layers (no router), left out" in manifest["imported"]["notes"]
    assert "E = 5: the largest expert index in the records plus one (no --experts given)" in manifest["imported"]["notes"]
    steps = [e for e in events(run) if e["kind"] == "step"]
    assert [e["step"] for e in steps] == [0, 2, 4] and [e["tokens"] for e in steps] == [n[0] + n[1], n[2] + n[3], n[4]]
    for e, group in zip(steps, (data[0:2], data[2:4], data[4:])):
        for layer in e["layers"]:
            counts = sum(np.bincount(rows[:, layer["layer"]].ravel(), minlength=5) for _, _, rows in group)
            assert close(layer["load"], shares(counts))
    # Step 0's probe: both responses' tokens but each's last (never fed back), decoded; a document each;
    # prompt or output as domain.
    t, meta = probe_tensors(run / "snapshots" / "step-00000000.probe.safetensors")
    (p0, o0, r0), (p1, o1, r1) = data[0], data[1]
    assert t["tokens"].tolist() == (p0 + o0)[:-1] + (p1 + o1)[:-1]
    assert t["documents"].tolist() == [0] * len(r0) + [1] * len(r1)
    assert t["domains"].tolist() == [0] * len(p0) + [1] * (len(o0) - 1) + [0] * len(p1) + [1] * (len(o1) - 1)
    assert t["layers.2.experts"].tolist() == np.concatenate([r0[:, 2], r1[:, 2]]).tolist()
    assert json.loads(meta["idamoe.vocab"])[:3] == ["w0", "w1", "w2"]
    assert (run / "snapshots" / "step-00000004.probe.safetensors").exists()  # the last step's, at the end
    table = route_table(run / "snapshots" / "step-00000000.safetensors", run / "snapshots" / "step-00000000.probe.safetensors")
    counts = np.bincount(np.concatenate([r0[:, 0], r1[:, 0]]).ravel(), minlength=5)
    assert close(table[0], shares(counts))
    # routed_experts_start_len: rows from that token on; the counts of meta_info stand for missing ids.
    p, o, r = data[0]
    line = _response(p, o, r[2:], routed_experts_start_len=2)
    del line["prompt_token_ids"]
    (tmp_path / "start.jsonl").write_text(json.dumps(line) + "\n")
    ok(capsys, "sglang", str(tmp_path / "start.jsonl"), "--out", str(tmp_path / "run2"), "--top-k", "2", "--experts", "5")
    t, meta = probe_tensors(tmp_path / "run2" / "snapshots" / "step-00000000.probe.safetensors")
    assert t["layers.0.experts"].tolist() == r[2:, 0].tolist() and json.loads(meta["idamoe.vocab"]) == []
    assert t["domains"].tolist() == [0] * (len(p) - 2) + [1] * (len(o) - 1)
    assert json.loads((tmp_path / "run2" / "run.json").read_text())["imported"]["tokens"] == "not recorded"


# SGLang's own code for the routed experts of responses: the scheduler's capturer (BaseTopkCapturer, as
# RoutedExpertsCapturer uses it: a device buffer per forward, copied to a host cache at the tokens' KV
# slots, read back by get_topk from the request's slots [start_len, seqlen - 1)) run on batched prefill
# and decode passes, encoded as the detokenizer does, the native /generate body as the tokenizer manager
# assembles it, and the OpenAI /v1/completions body built by OpenAIServingCompletion itself.
SGLANG_RESPONSES_WRITER = SGLANG_WITHOUT_INIT + r"""
import base64, json
import torch
import sglang.srt.state_capturer.base as base
import sglang.srt.entrypoints.openai.serving_completions as serving
from sglang.srt.entrypoints.openai.protocol import CompletionRequest
from sglang._version import __version__

reqs, out = json.load(open(sys.argv[1])), sys.argv[2]
NS = types.SimpleNamespace
# The host cache is pinned and registered with CUDA; here plain memory. The server's settings: no cache report.
base.ALLOC_MEMORY_FUNCS["cpu"] = lambda dims, dtype, device, pin_memory, allocator, **kw: torch.empty(dims, dtype=dtype)
serving.get_serving = lambda: NS(enable_cache_report=False)
layers, k = len(reqs[0]["rows"][0]), len(reqs[0]["rows"][0][0])
capturer = base.BaseTopkCapturer(num_tokens=256, max_batch_size=64, num_layers=layers, topk_size=k, device="cpu",
                                 name="routed_experts")
# Each request's KV slots, interleaved in the pool as an allocator hands them out.
seqlens = [len(r["prompt"]) + len(r["output"]) for r in reqs]
req_to_token = torch.zeros((len(reqs), max(seqlens)), dtype=torch.int64)
free = iter(torch.randperm(256).tolist())
for position in range(max(seqlens)):
    for i, n in enumerate(seqlens):
        if position < n:
            req_to_token[i, position] = next(free)
pool = NS(req_to_token=req_to_token)


def forward(tokens):
    # One forward pass over (request, position) tokens: each MoE layer's top-k into the device buffer.
    rows = torch.tensor([reqs[i]["rows"][p] for i, p in tokens], dtype=torch.int32)  # [n, layers, k]
    for layer in range(layers):
        if rows[:, layer].any():  # a dense layer has no router and captures nothing
            capturer.capture(layer, rows[:, layer])
    loc = torch.tensor([int(req_to_token[i, p]) for i, p in tokens])
    assert capturer.on_forward_end(NS(out_cache_loc=loc, out_cache_loc_virtual=None), False, None) is None


forward([(i, p) for i, r in enumerate(reqs) for p in range(len(r["prompt"]))])  # prefill, every prompt
for step in range(max(len(r["output"]) for r in reqs) - 1):  # decode: each output token but the last is fed back
    forward([(i, len(r["prompt"]) + step) for i, r in enumerate(reqs) if step < len(r["output"]) - 1])
completions = object.__new__(serving.OpenAIServingCompletion)  # its builder needs no tokenizer here
with open(out + "/generate.jsonl", "w") as g, open(out + "/completions.jsonl", "w") as c:
    for i, r in enumerate(reqs):
        rows = capturer.get_topk(req_pool_idx=i, seqlen=seqlens[i], req_to_token_pool=pool, start_len=0)
        meta = {"id": f"r{i}", "finish_reason": {"type": "length", "length": len(r["output"])},
                "prompt_tokens": len(r["prompt"]), "weight_version": "default", "num_retractions": 0,
                "completion_tokens": len(r["output"]), "cached_tokens": 0,
                "routed_experts": base64.b64encode(rows.numpy().tobytes()).decode("utf-8")}
        item = {"text": "", "output_ids": r["output"], "meta_info": meta, "prompt_token_ids": r["prompt"]}
        g.write(json.dumps(item) + "\n")
        request = CompletionRequest(model="m", prompt=r["prompt"], max_tokens=len(r["output"]),
                                    return_routed_experts=True, return_token_ids=True)
        response = completions._build_completion_response(request, [item], 0)
        c.write(json.dumps(response.model_dump(mode="json")) + "\n")
print(__version__)
"""


def responses_spec(seed: int = 7) -> List[Dict[str, Any]]:
    return [{"prompt": p, "output": o, "rows": rows.tolist()} for p, o, rows in responses(np.random.default_rng(seed))]


SGLANG_RESPONSES_OWN = start_writer(SGLANG_PYTHON, SGLANG_RESPONSES_WRITER, "responses", responses_spec(), "own")


def test_sglangs_own_capturer_and_completion_server_write_responses_that_import_alike(tmp_path: Path, capsys: Any) -> None:
    assert SGLANG_RESPONSES_OWN is not None, (f"SGLang 0.5.23 not found at {SGLANG_PYTHON}: scripts/setup installs it in "
                                              ".venv-sglang (or set IDAMOE_SGLANG_PYTHON)")
    proc, scratch = SGLANG_RESPONSES_OWN
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout.split()[-1] == "0.5.23"
    data = responses(np.random.default_rng(7))
    expected = None
    for name in ("generate.jsonl", "completions.jsonl"):
        run = tmp_path / name
        ok(capsys, "sglang", str(scratch / "own" / name), "--out", str(run), "--top-k", "2", "--experts", "5",
           "--group", "5")
        step = next(e for e in events(run) if e["kind"] == "step")
        assert step["tokens"] == sum(len(rows) for _, _, rows in data), name
        for layer in step["layers"]:
            counts = sum(np.bincount(rows[:, layer["layer"]].ravel(), minlength=5) for _, _, rows in data)
            assert close(layer["load"], shares(counts)), name
        t, _ = probe_tensors(run / "snapshots" / "step-00000000.probe.safetensors")
        assert t["tokens"].tolist() == [x for p, o, _ in data for x in (p + o)[:-1]], name
        assert t["layers.2.experts"].tolist() == np.concatenate([rows[:, 2] for _, _, rows in data]).tolist(), name
        expected = expected or t
        assert all(np.array_equal(t[key], expected[key]) for key in expected), name  # both forms, one probe


class Gadget:
    """Anything but plain tensors: torch.load(weights_only=True) must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/idamoe-pwned-sglang",))


@pytest.mark.parametrize("damage, message", [
    ("truncated-line", "responses.jsonl:2: not a JSON line"),
    ("torn-last", "the last line is cut off"),
    ("responses-no-top-k", "give --top-k K (the model's num_experts_per_tok)"),
    ("other-version", "no key 'last_physical_to_logical_map'"),
    ("not-a-dict", "holds a list, expected the dict SGLang's recorder dumps"),
    ("record-key", "record 1: no key 'input_ids'"),
    ("pickle", "not a file of plain tensors"),
    ("truncated-pt", "_0.pt: cut off: a torch.save zip without its end record"),
    ("missing-rank", "expert_distribution_recorder_*_1.pt is missing"),
    ("rank-file-missing", "rank 1 has 1 dump files, rank 0 2"),
    ("rank-mismatch", "record 0: rank 1 in the file of rank 0"),
    ("wrong-shape", "record 0: topk_ids_of_layer of shape [3, 6, 8], expected [3, 7 (input_ids), at least 2]"),
    ("slot-out-of-range", "topk_ids_of_layer holds slot 8, outside -1 (padding) ... 7"),
    ("counts-disagree", "global_physical_count disagrees with topk_ids_of_layer"),
    ("seq-lens", "record 0: extend_seq_lens [1] do not add up to the 7 input_ids"),
    ("dense-routes-later", "record 0: layer 0 routes tokens, but routed none in the first dump"),
    ("no-records", "holds no forward pass recorded by SGLang's expert distribution recorder"),
    ("experts-too-few", "--experts 4: "),
    ("top-k-disagrees", "--top-k 3: the per_token records route each token to 2 experts"),
    ("per-pass-no-top-k", "per_pass dumps count assignments, not tokens: give --top-k K"),
    ("tokenizer-no-ids", "the records hold no token ids to decode"),
    ("stat-no-top-k", "stat dumps count assignments, not tokens: give --top-k K"),
    ("stat-experts", "--experts 7: "),
    ("follow-pt", "--follow watches a dump directory"),
    ("group-zero", "--group must be at least 1"),
    ("out-inside-src", "inside SRC; pick a directory elsewhere"),
    ("missing-src", "nowhere: no such file or directory"),
    ("rows-mismatch", "rows of routed experts; the"),
    ("response-index", "expert 7 is not below E = 5"),
    ("empty", "holds no expert_distribution_recorder_*.pt"),
    ("mixed-kinds", "holds stat dumps"),
])
def test_bad_inputs_give_one_line_and_leave_nothing(tmp_path: Path, capsys: Any, damage: str, message: str) -> None:
    src = tmp_path / "dumps"
    out = tmp_path / "run"
    sc = scenario(seed=4, ranks=3 if damage == "missing-rank" else 2)
    extra: List[str] = []
    dump_files = lambda: sorted(src.glob("*_0.pt"))  # noqa: E731

    def edit(path: Path, change: Any) -> None:
        data = torch.load(path, weights_only=True)
        change(data)
        torch.save(data, path)

    if damage in ("truncated-line", "torn-last", "responses-no-top-k", "rows-mismatch", "response-index"):
        data = responses(np.random.default_rng(5), count=3)
        lines = [json.dumps(_response(p, o, r)) + "\n" for p, o, r in data]
        if damage == "truncated-line":
            lines[1] = lines[1][: len(lines[1]) // 2] + "\n"
        elif damage == "torn-last":
            lines[2] = lines[2][:-30]
        elif damage == "rows-mismatch":
            p, o, r = data[2]
            lines[2] = json.dumps(_response(p, o + [1], r)) + "\n"
        elif damage == "response-index":
            p, o, r = data[2]
            r = r.copy()
            r[0, 0] = [7, 1]
            lines[2] = json.dumps(_response(p, o, r)) + "\n"
            extra = ["--experts", "5"]
        src = tmp_path / "responses.jsonl"
        src.write_text("".join(lines))
        if damage != "responses-no-top-k":
            extra += ["--top-k", "2"]
    elif damage in ("stat-no-top-k", "stat-experts"):
        write_stat(src, sc)
        extra = ["--experts", "7", "--top-k", "2"] if damage == "stat-experts" else []
    elif damage in ("per-pass-no-top-k", "tokenizer-no-ids"):
        write_detail(src, sc, mode="per_pass")
        extra = ["--top-k", "2", "--tokenizer", str(tmp_path)] if damage == "tokenizer-no-ids" else []
    elif damage == "missing-src":
        src = tmp_path / "nowhere"
    else:
        write_detail(src, sc)
        first = dump_files()[0]
        if damage == "other-version":
            edit(first, lambda d: d.__setitem__("physical_to_logical_map", d.pop("last_physical_to_logical_map")))
        elif damage == "not-a-dict":
            torch.save([torch.zeros(2)], first)
        elif damage == "record-key":
            edit(first, lambda d: d["records"][1].pop("input_ids"))
        elif damage == "pickle":
            torch.save({"records": [Gadget()], "last_physical_to_logical_map": torch.tensor(P2L)}, first)
        elif damage == "truncated-pt":
            whole = first.read_bytes()
            first.write_bytes(whole[: len(whole) // 2])
        elif damage == "missing-rank":
            for p in src.glob("*_1.pt"):
                p.unlink()
        elif damage == "rank-file-missing":
            sorted(src.glob("*_1.pt"))[-1].unlink()
        elif damage == "rank-mismatch":
            edit(first, lambda d: d["records"][0].__setitem__("rank", 1))
        elif damage in ("wrong-shape", "slot-out-of-range", "counts-disagree", "seq-lens"):
            data = torch.load(first, weights_only=True)
            rec = data["records"][0]  # an extend pass of 7 tokens, in the first step's probe
            if damage == "wrong-shape":
                rec["topk_ids_of_layer"] = rec["topk_ids_of_layer"][:, :-1]
            elif damage == "slot-out-of-range":
                rec["topk_ids_of_layer"][1, 0, 0] = 8
            elif damage == "counts-disagree":
                rec["global_physical_count"][1, 0] += 1
            else:
                rec["extend_seq_lens"] = [1]
            torch.save(data, first)
        elif damage == "dense-routes-later":
            # Layer 0 routes no token in the first dump (dense); a token of the second dump goes to slot 0 there.
            later = dump_files()[1]
            data = torch.load(later, weights_only=True)
            rec = data["records"][0]
            rec["topk_ids_of_layer"][0, 0, 0] = 0
            rec["global_physical_count"][0, 0] += 1
            torch.save(data, later)
        elif damage == "no-records":
            for p in src.glob("*.pt"):
                edit(p, lambda d: d.__setitem__("records", []))
        elif damage == "experts-too-few":
            extra = ["--experts", "4"]
        elif damage == "top-k-disagrees":
            extra = ["--top-k", "3"]
        elif damage == "follow-pt":
            src, extra = first, ["--follow"]
        elif damage == "group-zero":
            extra = ["--group", "0"]
        elif damage == "out-inside-src":
            out = src / "run"
        elif damage == "empty":
            for p in src.glob("*.pt"):
                p.unlink()
        elif damage == "mixed-kinds":
            write_stat(src, sc)
    done = import_in_process(capsys, "sglang", str(src), "--out", str(out), *extra)
    assert done.returncode == 1, done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert _no_run(out.parent, out.name)
    assert not os.path.exists("/tmp/idamoe-pwned-sglang")


def test_follow_converts_dumps_as_they_appear_and_ctrl_c_keeps_every_step(tmp_path: Path) -> None:
    sc = scenario(seed=6, dumps=((0, 1, 2, 3), (8, 9)))
    src, run = tmp_path / "dumps", tmp_path / "run"
    src.mkdir()
    first = dict(sc, dumps=sc["dumps"][:1])
    write_detail(src, first)
    proc = subprocess.Popen(command("sglang", str(src), "--out", str(run), "--follow", "--group", "4", "--snapshot-every", "1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=REPO)
    try:
        def steps() -> List[int]:
            return [e["step"] for e in events(run) if e["kind"] == "step"] if (run / "events.jsonl").exists() else []

        def wait(predicate: Any, seconds: float = 30.0) -> None:
            deadline = time.monotonic() + seconds
            while not predicate():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, steps()
                time.sleep(0.1)

        wait(lambda: steps() == [0])  # once the files are whole and the directory went idle
        # The server dumps again: passes 8 and 9 of both ranks, in new files.
        second = tmp_path / "second"
        write_detail(second, dict(sc, dumps=sc["dumps"][1:]))
        for p in second.glob("*.pt"):
            os.rename(p, src / p.name.replace("1796000000.25", "1796000009.5"))
        wait(lambda: (run / "snapshots" / "step-00000008.probe.safetensors").exists())
        assert steps() == [0, 8]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "2 steps" in out and "stopped" in out
    kinds = check_run(run)
    assert "done" not in kinds and kinds["step"] == 2
    step8 = [e for e in events(run) if e["kind"] == "step"][1]
    total = truth_counts(sc, (8, 9))
    assert all(close(l["load"], shares(total[l["layer"]])) for l in step8["layers"])
