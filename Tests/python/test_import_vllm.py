"""`python -m idamoe_torch import vllm`: the routed experts vLLM returns with
`--enable-return-routed-experts` (per completion, [tokens, layers, top-k]) become runs that `idamoe
route`, `diff` and `inspect` read, with loads, probes (a document per completion, prompt or output as
domain) and E checked against the decisions the fixtures were written from.

The fixtures follow vllm 0.33.0 (vllm/outputs.py `CompletionOutput.routed_experts`; the OpenAI server's
`choices[i].routed_experts`, base64 of `.npy` bytes, vllm/utils/serial_utils.py `numpy2base64`). One
test has vLLM's own classes write them (RequestOutput and CompletionOutput saved as docs/importing.md
says, and the server's CompletionResponse and ChatCompletionResponse serialised by pydantic as the
server does): it runs in the interpreter of $IDAMOE_VLLM_PYTHON (default .venv-vllm/bin/python, which
scripts/setup installs), started when this module is collected, and fails, never skips, when that is
missing.
"""
from __future__ import annotations

import base64
import io
import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import torch

from peer_writers import start_writer
from test_contract import check_run
from test_import_sglang import (ENV, REPO, _no_run, close, command, events, idamoe, import_in_process, ok,
                                probe_tensors, route_table, shares)

VLLM_PYTHON = os.environ.get("IDAMOE_VLLM_PYTHON") or str(REPO / ".venv-vllm" / "bin" / "python")
LAYERS, K = 3, 2


def requests(seed: int = 0, count: int = 5, experts: int = 6) -> List[Dict[str, Any]]:
    """Requests of one completion each: prompt and output ids and the routed experts of every token but
    the last, uint8 [tokens - 1, 3, 2] as vLLM returns them; layer 1 is dense (zeros, never written)."""
    rng = np.random.default_rng(seed)
    prior = np.array([0.35, 0.2, 0.15, 0.1, 0.1, 0.1])[:experts]
    prior = prior / prior.sum()
    out = []
    for i in range(count):
        prompt = [int(x) for x in rng.integers(0, 30_000, size=int(rng.integers(3, 7)))]
        output = [int(x) for x in rng.integers(0, 30_000, size=int(rng.integers(2, 5)))]
        rows = np.zeros((len(prompt) + len(output) - 1, LAYERS, K), dtype=np.uint8)
        for t in range(rows.shape[0]):
            for layer in (0, 2):
                rows[t, layer] = rng.choice(experts, size=K, replace=False, p=prior)
        out.append({"request_id": f"r{i}", "prompt": prompt, "output": output, "rows": rows.tolist()})
    return out


def offline_line(r: Dict[str, Any]) -> str:
    """A RequestOutput saved as docs/importing.md says: vLLM's field names, the array as nested lists."""
    return json.dumps({"request_id": r["request_id"], "prompt_token_ids": r["prompt"],
                       "outputs": [{"index": 0, "token_ids": r["output"], "routed_experts": r["rows"]}]}) + "\n"


def npy_base64(rows: Any) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(rows, dtype=np.uint8), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def counts_of(reqs: List[Dict[str, Any]], layer: int, experts: int = 6) -> np.ndarray:
    return sum(np.bincount(np.array(r["rows"])[:, layer].ravel(), minlength=experts) for r in reqs)


def test_requests_become_steps_of_documents_with_their_tokens(tmp_path: Path, capsys: Any) -> None:
    reqs = requests()
    src = tmp_path / "routed.jsonl"
    src.write_text("".join(offline_line(r) for r in reqs))
    run = tmp_path / "run"
    out = ok(capsys, "vllm", str(src), "--out", str(run), "--group", "2")
    n = [len(r["rows"]) for r in reqs]
    top = max(max(np.array(r["rows"])[:, (0, 2)].max() for r in reqs), 0)
    assert f"3 steps, 2 snapshots, {sum(n)} tokens, 2 MoE layers x {top + 1} experts, top-2 (vLLM routed experts)" in out
    assert check_run(run) == {"start": 1, "step": 3, "snapshot": 2, "done": 1}
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"] == {"router": "recorded", "experts": int(top) + 1, "topK": 2}
    assert manifest["domains"] == ["prompt", "output"]
    imported = manifest["imported"]
    assert (imported["producer"], imported["records"], imported["tokens"], imported["source"]) == \
        ("vLLM", "routed experts", "token ids", str(src))
    assert imported["notes"] == ["layers 1 hold only zeros in the first request: dense layers (no router), left out",
                                 f"E = {top + 1}: the largest expert index in the records plus one (no --experts given)"]
    steps = [e for e in events(run) if e["kind"] == "step"]
    assert [e["step"] for e in steps] == [0, 2, 4] and [e["tokens"] for e in steps] == [n[0] + n[1], n[2] + n[3], n[4]]
    for e, group in zip(steps, (reqs[0:2], reqs[2:4], reqs[4:])):
        assert [l["layer"] for l in e["layers"]] == [0, 2]
        for layer in e["layers"]:
            c = counts_of(group, layer["layer"], int(top) + 1).astype(float)
            assert close(layer["load"], shares(c)) and "rank_loads" not in layer
            assert math.isclose(layer["cv"], c.std() / c.mean(), rel_tol=1e-5)
    assert max(range(int(top) + 1), key=lambda x: steps[0]["layers"][0]["load"][x]) == 0  # expert 0 is favoured
    # Step 0's probe: each request's prompt and output but the last token, a document each.
    t, meta = probe_tensors(run / "snapshots" / "step-00000000.probe.safetensors")
    r0, r1 = reqs[0], reqs[1]
    assert t["tokens"].tolist() == (r0["prompt"] + r0["output"])[:-1] + (r1["prompt"] + r1["output"])[:-1]
    assert t["documents"].tolist() == [0] * n[0] + [1] * n[1]
    assert t["domains"].tolist() == ([0] * len(r0["prompt"]) + [1] * (len(r0["output"]) - 1) +
                                     [0] * len(r1["prompt"]) + [1] * (len(r1["output"]) - 1))
    assert t["layers.2.experts"].tolist() == np.concatenate([np.array(r0["rows"])[:, 2], np.array(r1["rows"])[:, 2]]).tolist()
    assert "layers.1.experts" not in t and json.loads(meta["idamoe.vocab"]) == []
    assert (run / "snapshots" / "step-00000004.probe.safetensors").exists()  # the last step, at the end
    table = route_table(run / "snapshots" / "step-00000000.safetensors", run / "snapshots" / "step-00000000.probe.safetensors")
    for layer in (0, 2):
        c = counts_of(reqs[:2], layer, int(top) + 1)
        assert close(table[layer], shares(c))
    same = idamoe("diff", f"{run}@4", f"{run}@4", "--json")
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["a"]["imported"] == {"producer": "vLLM", "records": "routed experts"}
    assert report["a"]["router"] == "recorded" and all(l["agreement"]["raw"]["top1"] == 1 for l in report["layers"])


def test_split_prompt_rows_skipped_prompt_tokens_several_completions_and_no_ids(tmp_path: Path, capsys: Any) -> None:
    reqs = requests(seed=1, count=3)
    a, b, c = reqs
    rows_a = np.array(a["rows"])
    split = {"prompt_token_ids": a["prompt"], "routed_experts_prompt_start": 1,
             # An older response: the prompt's rows (from token 1) apart from the completion's.
             "prompt_routed_experts": rows_a[1:len(a["prompt"])].tolist(),
             "outputs": [{"token_ids": a["output"], "routed_experts": rows_a[len(a["prompt"]):].tolist()}]}
    two = {"prompt_token_ids": b["prompt"],
           "outputs": [{"token_ids": b["output"], "routed_experts": b["rows"]},
                       {"token_ids": c["output"][: len(b["output"])], "routed_experts": None},
                       {"token_ids": b["output"], "routed_experts": npy_base64(b["rows"])}]}
    # The OpenAI server without return_token_ids: no ids; usage says the prompt's length.
    bare = {"id": "cmpl-1", "object": "text_completion", "model": "m",
            "choices": [{"index": 0, "text": "...", "routed_experts": npy_base64(c["rows"])}],
            "usage": {"prompt_tokens": len(c["prompt"]), "completion_tokens": len(c["output"])}}
    src = tmp_path / "mixed.jsonl"
    src.write_text(json.dumps(split) + "\n" + json.dumps(two) + "\n")
    run = tmp_path / "run"
    ok(capsys, "vllm", str(src), "--out", str(run), "--experts", "6", "--group", "8")
    step = next(e for e in events(run) if e["kind"] == "step")
    assert step["tokens"] == len(rows_a) - 1 + 2 * len(b["rows"])
    t, _ = probe_tensors(run / "snapshots" / "step-00000000.probe.safetensors")
    seq_a = a["prompt"] + a["output"]
    assert t["tokens"].tolist() == seq_a[1:-1] + 2 * ((b["prompt"] + b["output"])[:-1])
    assert t["layers.0.experts"].tolist() == rows_a[1:, 0].tolist() + 2 * np.array(b["rows"])[:, 0].tolist()
    assert t["documents"].tolist() == [0] * (len(rows_a) - 1) + [1] * len(b["rows"]) + [2] * len(b["rows"])
    assert t["domains"].tolist()[: len(a["prompt"]) - 1] == [0] * (len(a["prompt"]) - 1)
    notes = json.loads((run / "run.json").read_text())["imported"]["notes"]
    assert "1 completions without routed experts (aborted before a forward pass, or the capture was off) left out" in notes
    (tmp_path / "bare.jsonl").write_text(json.dumps(bare) + "\n")
    ok(capsys, "vllm", str(tmp_path / "bare.jsonl"), "--out", str(tmp_path / "run2"), "--experts", "6")
    manifest = json.loads((tmp_path / "run2" / "run.json").read_text())
    assert manifest["imported"]["tokens"] == "not recorded"
    t, meta = probe_tensors(tmp_path / "run2" / "snapshots" / "step-00000000.probe.safetensors")
    assert t["tokens"].tolist() == list(range(len(c["rows"])))  # ordinals: no ids recorded
    assert t["domains"].tolist() == [0] * len(c["prompt"]) + [1] * (len(c["output"]) - 1)
    assert t["layers.2.experts"].tolist() == np.array(c["rows"])[:, 2].tolist()


# vLLM's own classes: a RequestOutput per request saved as docs/importing.md says (JSON lines and a .pt
# of tensors), and the OpenAI server's responses serialised by its pydantic models.
VLLM_WRITER = r"""
import json, sys
import numpy as np
import torch
from vllm.version import __version__
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.utils.serial_utils import numpy2base64
from vllm.entrypoints.openai.completion.protocol import CompletionResponse, CompletionResponseChoice
from vllm.entrypoints.openai.chat_completion.protocol import (ChatCompletionResponse, ChatCompletionResponseChoice,
                                                              ChatMessage)
from vllm.entrypoints.serve.engine.protocol import UsageInfo

reqs, out = json.load(open(sys.argv[1])), sys.argv[2]
outputs = []
for r in reqs:
    c = CompletionOutput(index=0, text="", token_ids=r["output"], cumulative_logprob=None, logprobs=None,
                         routed_experts=np.array(r["rows"], dtype=np.uint8), finish_reason="length")
    outputs.append(RequestOutput(request_id=r["request_id"], prompt=None, prompt_token_ids=r["prompt"],
                                 prompt_logprobs=None, outputs=[c], finished=True))
with open(out + "/offline.jsonl", "w") as f:
    for o in outputs:
        f.write(json.dumps({"request_id": o.request_id, "prompt_token_ids": o.prompt_token_ids,
                            "outputs": [{"index": c.index, "token_ids": list(c.token_ids),
                                         "routed_experts": c.routed_experts.tolist()} for c in o.outputs]}) + "\n")
torch.save([{"prompt_token_ids": o.prompt_token_ids,
             "outputs": [{"token_ids": list(c.token_ids), "routed_experts": torch.from_numpy(c.routed_experts)}
                         for c in o.outputs]} for o in outputs], out + "/offline.pt")
with open(out + "/completions.jsonl", "w") as f, open(out + "/chat.jsonl", "w") as g:
    for o in outputs:
        c = o.outputs[0]
        usage = UsageInfo(prompt_tokens=len(o.prompt_token_ids), completion_tokens=len(c.token_ids),
                          total_tokens=len(o.prompt_token_ids) + len(c.token_ids))
        choice = CompletionResponseChoice(index=0, text=c.text, finish_reason=c.finish_reason, token_ids=list(c.token_ids),
                                          prompt_token_ids=o.prompt_token_ids, routed_experts=numpy2base64(c.routed_experts))
        f.write(CompletionResponse(model="m", choices=[choice], usage=usage).model_dump_json() + "\n")
        chat = ChatCompletionResponseChoice(index=0, message=ChatMessage(role="assistant", content=c.text),
                                            finish_reason="length", token_ids=list(c.token_ids),
                                            routed_experts=numpy2base64(c.routed_experts))
        g.write(ChatCompletionResponse(model="m", choices=[chat], usage=usage,
                                       prompt_token_ids=o.prompt_token_ids).model_dump_json() + "\n")
print(__version__)
"""


VLLM_OWN = start_writer(VLLM_PYTHON, VLLM_WRITER, "requests", requests(seed=2))


def test_vllms_own_outputs_and_server_responses_import_with_their_decisions(tmp_path: Path, capsys: Any) -> None:
    assert VLLM_OWN is not None, (f"vLLM 0.33.0 not found at {VLLM_PYTHON}: scripts/setup installs it in .venv-vllm "
                                  "(or set IDAMOE_VLLM_PYTHON)")
    proc, scratch = VLLM_OWN
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert stdout.split()[-1] == "0.33.0"
    reqs = requests(seed=2)
    expected = None
    for name in ("offline.jsonl", "offline.pt", "completions.jsonl", "chat.jsonl"):
        run = tmp_path / name
        ok(capsys, "vllm", str(scratch / name), "--out", str(run), "--group", "5", "--experts", "6")
        step = next(e for e in events(run) if e["kind"] == "step")
        assert step["tokens"] == sum(len(r["rows"]) for r in reqs)
        for layer in step["layers"]:
            assert close(layer["load"], shares(counts_of(reqs, layer["layer"]))), name
        t, _ = probe_tensors(run / "snapshots" / "step-00000000.probe.safetensors")
        assert t["tokens"].tolist() == [x for r in reqs for x in (r["prompt"] + r["output"])[:-1]], name
        expected = expected or t
        assert all(np.array_equal(t[k], expected[k]) for k in expected), name  # every form gives the same probe


class Gadget:
    """Anything but plain tensors: torch.load(weights_only=True) must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/idamoe-pwned-vllm",))


@pytest.mark.parametrize("damage, message", [
    ("truncated-line", "routed.jsonl:2: not a JSON line"),
    ("torn-last", "the last line is cut off"),
    ("other-version", "routed.jsonl:3: no 'outputs' (vLLM's RequestOutput) and no 'choices'"),
    ("no-field", "routed.jsonl:2: outputs[0]: no field 'routed_experts'"),
    ("pickle", "not a file of plain tensors"),
    ("numpy-in-pt", "not a file of plain tensors"),
    ("follow-pt", "a .pt file is written whole"),
    ("wrong-shape", "routed.jsonl:3: outputs[0]: routed experts of shape"),
    ("not-3d", "routed.jsonl:2: outputs[0]: routed_experts of shape [2, 3] (int64) is not [tokens, layers, k] integers"),
    ("index", "routed.jsonl:3: outputs[0]: expert 9 is not below E = 9"),
    ("rows-mismatch", "rows of routed experts; the"),
    ("dense-routes", "routed.jsonl:2: outputs[0]: layer 1 routes tokens, but held only zeros in the first request"),
    ("bad-base64", "routed_experts is not base64 of a .npy array"),
    ("tokenizer-no-ids", "the records hold no token ids to decode"),
    ("empty", "holds no routed experts"),
    ("truncated-pt", "routed.pt: cut off: a torch.save zip without its end record"),
    ("not-a-list", "routed.pt: holds a str, expected a list of request dicts"),
    ("directory", "a directory; give the .jsonl (or .pt) file of vLLM's request outputs"),
    ("missing-src", "nowhere.jsonl: no such file"),
    ("top-k-disagrees", "--top-k 3: the routed experts record top-2"),
    ("follow-no-experts", "do not say how many experts the model has: give --experts E"),
    ("ids-then-none", "routed.jsonl:2: outputs[0]: no token ids, as the first request has"),
    ("no-moe-layer", "routed.jsonl:1: outputs[0]: every layer routes every token to expert 0 only: no MoE layer found"),
    ("prompt-start", "routed.jsonl:2: routed_experts_prompt_start -1 is not a count of tokens"),
    ("group-zero", "--group must be at least 1"),
    ("experts-zero", "--experts must be at least 1"),
])
def test_bad_inputs_give_one_line_and_leave_nothing(tmp_path: Path, capsys: Any, damage: str, message: str) -> None:
    reqs = requests(seed=3, count=3)
    lines = [offline_line(r) for r in reqs]
    src = tmp_path / "routed.jsonl"
    extra: List[str] = []
    obj = json.loads(lines[1])
    if damage in ("truncated-pt", "not-a-list"):
        src = tmp_path / "routed.pt"
        if damage == "not-a-list":
            torch.save("requests", str(src))
        else:
            torch.save([{"outputs": [{"routed_experts": torch.zeros((2, 3, 2), dtype=torch.uint8)}]}], str(src))
            whole = src.read_bytes()
            src.write_bytes(whole[: len(whole) // 2])
    elif damage == "directory":
        src = tmp_path / "outputs"
        src.mkdir()
    elif damage == "missing-src":
        src = tmp_path / "nowhere.jsonl"
    elif damage == "top-k-disagrees":
        extra = ["--top-k", "3"]
    elif damage == "follow-no-experts":
        extra = ["--follow"]
    elif damage == "ids-then-none":
        del obj["prompt_token_ids"]
        lines[1] = json.dumps(obj) + "\n"
    elif damage == "no-moe-layer":
        first = json.loads(lines[0])
        first["outputs"][0]["routed_experts"] = np.zeros(np.array(reqs[0]["rows"]).shape, dtype=int).tolist()
        lines[0] = json.dumps(first) + "\n"
    elif damage == "prompt-start":
        obj["routed_experts_prompt_start"] = -1
        lines[1] = json.dumps(obj) + "\n"
    elif damage == "group-zero":
        extra = ["--group", "0"]
    elif damage == "experts-zero":
        extra = ["--experts", "0"]
    if damage == "truncated-line":
        lines[1] = lines[1][: len(lines[1]) // 2] + "\n"
    elif damage == "torn-last":
        lines[2] = lines[2][:-20]
    elif damage == "other-version":
        lines[2] = json.dumps({"prompt_token_ids": [1], "completions": []}) + "\n"
    elif damage == "no-field":
        del obj["outputs"][0]["routed_experts"]
        lines[1] = json.dumps(obj) + "\n"
    elif damage in ("pickle", "numpy-in-pt", "follow-pt"):
        src = tmp_path / "routed.pt"
        if damage == "pickle":
            torch.save([{"outputs": [Gadget()]}], str(src))
        elif damage == "numpy-in-pt":
            torch.save([{"outputs": [{"routed_experts": np.zeros((2, 3, 2), dtype=np.uint8)}]}], str(src))
        else:
            torch.save([{"outputs": [{"routed_experts": torch.zeros((2, 3, 2), dtype=torch.uint8)}]}], str(src))
            extra = ["--follow", "--experts", "4"]
    elif damage == "wrong-shape":
        obj = json.loads(lines[2])
        obj["outputs"][0]["routed_experts"] = [row[:2] for row in obj["outputs"][0]["routed_experts"]]
        lines[2] = json.dumps(obj) + "\n"
    elif damage == "not-3d":
        obj["outputs"][0]["routed_experts"] = [[1, 2, 3], [4, 5, 0]]
        lines[1] = json.dumps(obj) + "\n"
    elif damage == "index":
        obj = json.loads(lines[2])
        obj["outputs"][0]["routed_experts"][0][0] = [9, 1]
        lines[2] = json.dumps(obj) + "\n"
        extra = ["--experts", "9"]
    elif damage == "rows-mismatch":
        obj["outputs"][0]["token_ids"] = obj["outputs"][0]["token_ids"] + [7]
        lines[1] = json.dumps(obj) + "\n"
    elif damage == "dense-routes":
        obj["outputs"][0]["routed_experts"][1][1] = [2, 3]
        lines[1] = json.dumps(obj) + "\n"
    elif damage == "bad-base64":
        obj["outputs"][0]["routed_experts"] = "not base64!"
        lines[1] = json.dumps(obj) + "\n"
    elif damage == "tokenizer-no-ids":
        for i, line in enumerate(lines):
            o = json.loads(line)
            del o["prompt_token_ids"]
            lines[i] = json.dumps(o) + "\n"
        extra = ["--tokenizer", str(tmp_path)]
    elif damage == "empty":
        lines = [json.dumps({"prompt_token_ids": [1, 2], "outputs": [{"token_ids": [3], "routed_experts": None}]}) + "\n"]
    if src.suffix == ".jsonl" and damage != "missing-src":
        src.write_text("".join(lines))
    done = import_in_process(capsys, "vllm", str(src), "--out", str(tmp_path / "run"), *extra)
    assert done.returncode == 1, done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert _no_run(tmp_path, "run")
    assert not os.path.exists("/tmp/idamoe-pwned-vllm")


def test_follow_converts_requests_as_they_are_appended_and_ctrl_c_keeps_every_step(tmp_path: Path) -> None:
    reqs = requests(seed=4, count=5)
    src, run = tmp_path / "routed.jsonl", tmp_path / "run"
    src.write_text("".join(offline_line(r) for r in reqs[:2]))
    proc = subprocess.Popen(command("vllm", str(src), "--out", str(run), "--follow", "--experts", "6", "--group", "2",
                                    "--snapshot-every", "1"),
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

        wait(lambda: steps() == [0])
        with open(src, "a") as f:
            f.write(offline_line(reqs[2]))
            line = offline_line(reqs[3])
            f.write(line[:40])  # a torn line waits for its newline
            f.flush()
            time.sleep(0.5)
            f.write(line[40:] + offline_line(reqs[4]))
        # Requests 2 and 3 make step 2; request 4 alone is written as step 4 once the file is idle.
        wait(lambda: (run / "snapshots" / "step-00000004.probe.safetensors").exists())
        assert steps() == [0, 2, 4]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "3 steps" in out and "stopped" in out
    kinds = check_run(run)
    assert "done" not in kinds and kinds["step"] == 3
    step2 = [e for e in events(run) if e["kind"] == "step"][1]
    assert all(close(l["load"], shares(counts_of(reqs[2:4], l["layer"]))) for l in step2["layers"])
