"""What `python -m idamoe_torch capture` refuses, and when: an existing OUT before the model loads; a model
whose own forward fails, in one line naming the module; a routing no rule of the contract reproduces,
unless `--unverified`, which run.json, the inspector's title and diff then show; devices it cannot use.
And what it does at the size of real models: windows batched without changing a decision, `--max-tokens`,
a progress line on stderr only for long captures (or on a terminal)."""
from __future__ import annotations

import gc
import io
import json
import weakref
from pathlib import Path
from typing import Optional

import pytest
import torch
import transformers

from test_contract import check_run
from torch_support import run_idamoe

from idamoe_torch import read_probe
from idamoe_torch import capture as capture_module
from idamoe_torch import capture_check, capture_rules
from idamoe_torch.__main__ import main as cli
from idamoe_torch.capture import Progress, capture

TEXT = "Routers send each token to two experts; the experts balance their load. " * 8


def mixtral(directory: Path) -> transformers.PreTrainedModel:
    config = transformers.MixtralConfig(vocab_size=300, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, max_position_embeddings=64, intermediate_size=24,
                                        num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.gate.weight.normal_(0, 0.6)
    model.save_pretrained(str(directory))
    return model


def run_cli(tmp_path: Path, capsys, *extra: str, model: str = "model", out: str = "out"):
    (tmp_path / "text.txt").write_text(TEXT)
    capsys.readouterr()
    code = cli(["capture", "--model", str(tmp_path / model), "--text", str(tmp_path / "text.txt"),
                "--out", str(tmp_path / out), "--threads", "1", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_existing_out_is_refused_before_the_model_loads(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    monkeypatch.setattr(capture_module, "_load", lambda *a, **k: pytest.fail("the model loaded before OUT was checked"))
    code, _, err = run_cli(tmp_path, capsys)
    assert code == 1 and "exists and is not empty" in err and err.count("\n") == 1, err
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_a_failing_forward_says_it_was_the_models_and_where(tmp_path: Path, capsys, monkeypatch) -> None:
    model = mixtral(tmp_path / "model")
    experts = type(model.model.layers[0].mlp.experts)

    def broken(self, *args, **kwargs):
        return torch.ones(4) + torch.ones(8)
    monkeypatch.setattr(experts, "forward", broken)
    code, _, err = run_cli(tmp_path, capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith(f"error: the model's forward failed in model.layers.0.mlp.experts ({experts.__name__}): "
                          "RuntimeError: The size of tensor a (4) must match the size of tensor b (8)"), err
    assert not (tmp_path / "out").exists()


def flipped_weights(model: transformers.PreTrainedModel, monkeypatch) -> None:
    """Mixtral's gate, handing its experts the two weights swapped: a rule outside the contract."""
    router = type(model.model.layers[0].mlp.gate)
    original = router.forward

    def flipped(self, hidden_states):
        logits, weights, indices = original(self, hidden_states)
        return logits, weights.flip(-1), indices
    monkeypatch.setattr(router, "forward", flipped)


def test_unverified_writes_what_no_rule_reproduces_and_says_so_everywhere(tmp_path: Path, capsys, monkeypatch) -> None:
    flipped_weights(mixtral(tmp_path / "model"), monkeypatch)
    code, _, err = run_cli(tmp_path, capsys)
    assert code == 1 and "--unverified writes the closest rule" in err and err.count("\n") == 1, err
    code, out, err = run_cli(tmp_path, capsys, "--unverified")
    assert code == 0, err
    assert "UNVERIFIED: other experts on 0, other gate weights on" in out, out
    run = tmp_path / "out"
    meta = json.loads((run / "run.json").read_text())
    assert meta["capture"]["unverified"] is True
    assert any(n.startswith("UNVERIFIED (--unverified): model.layers.0.mlp.gate: no routing rule") for n in meta["capture"]["notes"])
    check_run(run)
    frame = run_idamoe("inspect", str(run), "--headless", "--size", "120x40").stdout
    assert "UNVERIFIED capture of Mixtral" in frame, frame  # the title, cut at the frame's width
    diff = json.loads(run_idamoe("diff", str(run), str(run), "--json").stdout)
    assert diff["a"]["capture"]["unverified"] is True, diff["a"]
    header = run_idamoe("diff", str(run), str(run)).stdout.splitlines()[:4]
    assert any("UNVERIFIED capture of Mixtral" in line for line in header), header


def test_a_gate_whose_choices_cannot_be_seen_is_refused_unless_unverified(tmp_path: Path, capsys, monkeypatch) -> None:
    """A block that hands its experts nothing readable and a gate returning logits only: the capture
    cannot be checked; --unverified writes the rule the settings suggest."""
    model = mixtral(tmp_path / "model")
    block = type(model.model.layers[0].mlp)
    router = type(model.model.layers[0].mlp.gate)

    def opaque_block(self, hidden_states):
        shape = hidden_states.shape
        flat = hidden_states.reshape(-1, shape[-1])
        logits = self.gate(flat)
        weights, indices = torch.softmax(logits, -1).topk(2, dim=-1)
        out = torch.zeros_like(flat)
        for j in range(2):
            for e in range(4):
                rows = indices[:, j] == e
                if rows.any():
                    out[rows] += self.experts(flat[rows], torch.full((int(rows.sum()), 1), e),
                                              (weights[rows, j] / weights[rows].sum(-1))[:, None])
        return out.reshape(shape)

    monkeypatch.setattr(router, "forward", lambda self, h: torch.nn.functional.linear(h, self.weight))
    monkeypatch.setattr(block, "forward", opaque_block)
    code, _, err = run_cli(tmp_path, capsys)
    assert code == 1 and "the model's own routing cannot be seen" in err and "--unverified" in err, err
    code, out, err = run_cli(tmp_path, capsys, "--unverified")
    assert code == 0 and "UNVERIFIED: not checked" in out, (out, err)
    assert json.loads((tmp_path / "out" / "run.json").read_text())["capture"]["unverified"] is True


def test_devices_it_cannot_use_are_one_line_errors_before_loading(tmp_path: Path, capsys, monkeypatch) -> None:
    mixtral(tmp_path / "model")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run_cli(tmp_path, capsys, "--device", "cuda")
    assert code == 1 and "--device cuda: no CUDA device" in err and err.count("\n") == 1, err
    monkeypatch.setattr(capture_module.importlib.util, "find_spec", lambda name: None)
    code, _, err = run_cli(tmp_path, capsys, "--device-map", "auto")
    assert code == 1 and "--device-map auto needs the accelerate package: pip install accelerate" in err, err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_batched_windows_and_max_tokens_change_no_decision(tmp_path: Path) -> None:
    """Windows batched 3 a forward (a shorter last window alone) give the probe and the routers of one
    window a forward; --max-tokens cuts the text; the documents number the windows."""
    mixtral(tmp_path / "model")
    one = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "one"), window=40, batch=1, max_tokens=500)
    three = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "three"), window=40, batch=3, max_tokens=500)
    assert one.tokens == three.tokens == 500
    probes = [read_probe(str(tmp_path / r / "snapshots" / "step-00000000.probe.safetensors")) for r in ("one", "three")]
    for block in probes[0][1]:
        assert torch.allclose(probes[0][1][block], probes[1][1][block], atol=1e-5), block
    from safetensors import safe_open
    with safe_open(str(tmp_path / "three" / "probe.safetensors"), framework="pt") as f:
        documents = f.get_tensor("documents")
    assert documents.tolist() == [i // 40 for i in range(500)]
    assert one.notes[0] == three.notes[0] == "softmax, gates renormalised, top-2 of 4 experts"


def test_progress_is_one_line_on_stderr_only_when_long_or_on_a_terminal(tmp_path: Path, capsys) -> None:
    stream = io.StringIO()
    progress = Progress(1000, stream, after=0.0, every=0.0)
    progress.update(250)
    progress.update(1000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("capture: 250 of 1,000 tokens (25%), ") and "tokens/s" in lines[0], lines
    mixtral(tmp_path / "model")
    code, out, err = run_cli(tmp_path, capsys)  # a short capture, not a terminal: nothing but the summary
    assert code == 0 and err == "", err
    assert "same experts as the model on 576 of 576 tokens" in out and "read from what the block hands its experts" in out


def test_candidate_rules_share_one_copy_of_each_gate_and_failed_rules_are_dropped(tmp_path: Path, monkeypatch) -> None:
    """DeepSeek-V3 (selection bias, groups: 30 candidate rules a gate) over 7 MoE blocks: every router
    built holds the block's one float32 copy of its gate (DeepSeek-V3's size, 256 x 7168, is 7.3 MB a
    copy: 30 copies a block were 12.8 GB over its 58 blocks), and after the first forward only the rules
    that matched every token are left."""
    from test_capture_architectures import TEXT as ARCH_TEXT, WINDOW, build

    model = build("deepseek_v3", tmp_path / "model", num_hidden_layers=8)
    blocks, experts, width = 7, 8, int(model.config.hidden_size)
    built: list = []
    original = capture_rules.make_router

    def recording(*args, **kwargs):
        router = original(*args, **kwargs)
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                    for t in [*router.parameters(), *router.buffers()]}
        built.append((weakref.ref(router), router.gate.weight.untyped_storage().data_ptr(), storages))
        return router
    monkeypatch.setattr(capture_rules, "make_router", recording)
    monkeypatch.setattr(capture_check, "make_router", recording, raising=False)  # where the candidates were once built

    alive: list = []

    class Counting(Progress):
        def update(self, done: int) -> None:
            gc.collect()
            alive.append(sum(ref() is not None for ref, _, _ in built))

    report = capture(str(tmp_path / "model"), ARCH_TEXT, str(tmp_path / "run"), window=WINDOW, batch=1,
                     progress=Counting(1, io.StringIO()))
    assert not report.unverified and sorted(report.checks) == list(range(1, 8)), report.notes
    assert len(built) == 30 * blocks, len(built)  # the candidates (capture_decide builds the written routers)
    assert len({ptr for _, ptr, _ in built}) == blocks  # one gate copy a block
    held: dict = {}
    for _, _, storages in built:
        held.update(storages)
    gate_bytes = experts * width * 4
    assert sum(held.values()) <= blocks * gate_bytes + len(built) * experts * 4, (sum(held.values()), gate_bytes)
    assert len(alive) == report.tokens // WINDOW + (report.tokens % WINDOW > 0) >= 3, alive
    # after each forward, one rule a block (the exact one) and at most the last one the check's loop tallied
    assert max(alive) <= blocks + 1 and alive[-1] == blocks, alive


class CountingText(io.StringIO):
    """A text file that counts the characters read from it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.given = 0

    def read(self, size: Optional[int] = -1) -> str:
        out = super().read(size)
        self.given += len(out)
        return out


def test_only_the_start_of_the_text_that_max_tokens_needs_is_read_and_tokenized(tmp_path: Path, monkeypatch) -> None:
    """A 4 MB text and --max-tokens 300: a few thousand characters are read and tokenized, and the ids are
    the first 300 of the whole text's."""
    from test_torch_capture import TEXT as WORDS, save_tokenizer

    mixtral(tmp_path / "model")
    save_tokenizer("wordlevel", tmp_path / "model")
    big = WORDS * (4_000_000 // len(WORDS))
    tokenized: list = []
    original = transformers.AutoTokenizer.from_pretrained

    class Recording:
        def __init__(self, tokenizer) -> None:
            self.tokenizer = tokenizer

        def __call__(self, text: str, **kwargs):
            tokenized.append(len(text))
            return self.tokenizer(text, **kwargs)

        def __len__(self) -> int:
            return len(self.tokenizer)

        def __getattr__(self, name: str):
            return getattr(self.tokenizer, name)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: Recording(original(*a, **k)))
    text = CountingText(big)
    report = capture(str(tmp_path / "model"), text, str(tmp_path / "run"), max_tokens=300, window=64)
    assert report.tokens == 300 and report.token_source == "tokenizer"
    assert text.given < 70_000 and max(tokenized) <= 8 * 4096, (text.given, tokenized)
    whole = original(str(tmp_path / "model"))(big[:200_000])["input_ids"]  # 200,000 characters: well past 300 tokens
    tokens, _, _ = read_probe(str(tmp_path / "run" / "snapshots" / "step-00000000.probe.safetensors"))
    assert tokens.tolist() == whole[:300]


def test_help_shows_every_default_and_no_none(capsys) -> None:
    with pytest.raises(SystemExit):
        cli(["capture", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in out and "(default: 2048)" in out and "(default: float32)" in out, out
    assert "model directory (save_pretrained layout)" in out


def test_device_map_auto_on_the_cpu_captures_exactly(tmp_path: Path, monkeypatch) -> None:
    """--device-map auto with accelerate and no GPU: the model loads with device_map "auto", every
    parameter on the CPU, and the capture is the one --device cpu writes (the same routers and probe)."""
    mixtral(tmp_path / "model")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    placed: list = []
    original = transformers.AutoModelForCausalLM.from_pretrained

    def recording(*args, **kwargs):
        model = original(*args, **kwargs)
        placed.append((kwargs.get("device_map"), {str(p.device) for p in model.parameters()}))
        return model
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", recording)
    mapped = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "mapped"), window=40, device_map="auto")
    plain = capture(str(tmp_path / "model"), TEXT, str(tmp_path / "plain"), window=40, device="cpu")
    assert placed == [("auto", {"cpu"}), (None, {"cpu"})], placed
    assert not mapped.unverified and mapped.notes == plain.notes and mapped.tokens == plain.tokens == 576
    from safetensors.torch import load_file
    for name in ("step-00000000.safetensors", "step-00000000.probe.safetensors"):
        a, b = (load_file(str(tmp_path / r / "snapshots" / name)) for r in ("mapped", "plain"))
        assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a), name
