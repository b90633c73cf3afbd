"""IdamoeCallback (python/idamoe_torch/trainer_callback.py) on a real transformers Trainer: tiny MoE models
built from configs (nothing downloaded), token ids fed directly (no tokenizer but for TRL's SFTTrainer).

- the run directory validates against docs/schema (run.json and every events line);
- each step event's loads are the experts the model chose, computed independently from the model's own
  router logits (hooks on the gates' outputs, top-k of their softmax) for the same micro-batches, summed
  between logs; each eval event's held-out loads likewise for the eval forwards;
- every snapshot routes, by the Swift binary (`idamoe route`), the probe to the experts the model at that
  step chooses (a softmax router for Mixtral; a softmax router with a selection bias for Ernie 4.5;
  recorded decisions for an Ernie 4.5 whose gate weights no rule of the contract gives);
- the training is the same with and without the callback: losses, gradient norms and every parameter;
- a model without an MoE router, and a run directory that is not new or empty, are refused in one line;
- TRL's SFTTrainer takes it as the Trainer does;
- under torch.distributed (2 processes, gloo) the step and eval loads are the single process's.

Run as a script (`python test_trainer_callback.py worker RUN WORLD`), the file is the distributed worker.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import transformers  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402

from idamoe_torch import ContractError, IdamoeCallback, read_probe  # noqa: E402

VOCAB, T, E, K = 64, 16, 4, 2
STEPS = 4
transformers.logging.set_verbosity_error()
torch.set_num_threads(1)


def mixtral(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = transformers.MixtralConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, intermediate_size=48, num_local_experts=E,
                                        num_experts_per_tok=K, max_position_embeddings=64)
    return transformers.MixtralForCausalLM(config)


def ernie(seed: int = 0, norm_min: float = 1e-12) -> torch.nn.Module:
    """Ernie 4.5 MoE: softmax scores, chosen by score + a selection bias (drawn at random here, so it
    changes choices): a softmax router with an `expert_bias`. With a large `norm_min` its gates are the
    chosen probabilities over max(their sum, norm_min), which no rule of the contract gives, so its
    snapshots are recorded decisions."""
    torch.manual_seed(seed)
    config = transformers.Ernie4_5_MoeConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, moe_intermediate_size=24,
                                             moe_k=K, moe_num_experts=E, moe_num_shared_experts=0, moe_layer_start_index=0,
                                             moe_layer_end_index=1, max_position_embeddings=64, moe_norm_min=norm_min)
    model = transformers.Ernie4_5_MoeForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.gate.weight.normal_(0, 0.6)
            layer.mlp.gate.moe_statics.e_score_correction_bias.uniform_(-0.2, 0.2)
    return model


def examples(n: int, seed: int) -> List[Dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(0, VOCAB, (T,), generator=g)
        out.append({"input_ids": ids, "labels": ids.clone()})
    return out


def arguments(out: Path, **extra: Any) -> TrainingArguments:
    settings: Dict[str, Any] = dict(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=2,
                                    gradient_accumulation_steps=2, logging_steps=1, eval_strategy="steps", eval_steps=2,
                                    save_steps=2, report_to=[], use_cpu=True, learning_rate=3e-3, disable_tqdm=True, seed=7,
                                    save_only_model=True)
    settings.update(extra)
    return TrainingArguments(**settings)


def gate_modules(model: torch.nn.Module) -> Dict[int, torch.nn.Module]:
    return {i: layer.mlp.gate for i, layer in enumerate(model.model.layers)}


class Reference(TrainerCallback):
    """The loads, computed apart from idamoe_torch: the top-k of the softmax of each gate's own logits
    (Mixtral's routing), plus the selection bias for Ernie, counted per training forward (grouped by the
    Trainer's logs) and per eval forward (grouped by evaluation); and per log the mean entropy in bits of
    the training tokens' softmax distributions."""

    def __init__(self, model: torch.nn.Module, bias: bool = False) -> None:
        self.steps: Dict[int, Dict[int, torch.Tensor]] = {}
        self.entropies: Dict[int, Dict[int, float]] = {}
        self.entropy: Dict[int, Tuple[float, int]] = {}
        self.evals: Dict[int, Dict[int, torch.Tensor]] = {}
        self.train: Dict[int, torch.Tensor] = {}
        self.eval: Dict[int, torch.Tensor] = {}
        for i, gate in gate_modules(model).items():
            gate.register_forward_hook(self.hook(i, gate, bias))

    def hook(self, block: int, gate: torch.nn.Module, bias: bool) -> Any:
        def count(module: torch.nn.Module, _args: Any, output: Any) -> None:
            logits = output[0] if isinstance(output, tuple) else output
            scores = torch.softmax(logits.detach().double(), dim=-1)
            selection = scores + gate.moe_statics.e_score_correction_bias.double() if bias else scores
            chosen = torch.topk(selection, K, dim=-1).indices
            counts = torch.bincount(chosen.reshape(-1), minlength=E).double()
            into = self.train if module.training else self.eval
            into[block] = into.get(block, torch.zeros(E, dtype=torch.float64)) + counts
            if module.training:
                bits = -(scores * torch.log2(scores)).sum().item()
                total, n = self.entropy.get(block, (0.0, 0))
                self.entropy[block] = (total + bits, n + scores.shape[0])
        return count

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.steps[state.global_step], self.train = self.train, {}
            self.entropies[state.global_step] = {b: total / n for b, (total, n) in self.entropy.items()}
            self.entropy = {}

    def on_step_end(self, args, state, control, **kwargs):
        self.eval = {}

    def on_evaluate(self, args, state, control, **kwargs):
        self.evals[state.global_step], self.eval = self.eval, {}


def events(run: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]


def train(tmp: Path, name: str, build: Any = mixtral, callback: bool = True, bias: bool = False,
          **extra: Any) -> Tuple[Trainer, Optional[Reference], Path]:
    model = build()
    run = tmp / f"{name}-run"
    reference = Reference(model, bias) if callback else None
    callbacks = [IdamoeCallback(run), reference] if callback else []
    trainer = Trainer(model=model, args=arguments(tmp / f"{name}-out", **extra), train_dataset=examples(32, 1),
                      eval_dataset=examples(8, 2), callbacks=callbacks)
    trainer.train()
    return trainer, reference, run


@pytest.fixture(scope="module")
def finetune(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trainer")
    with_callback = train(tmp, "with")
    without = train(tmp, "without", callback=False)
    return tmp, with_callback, without


# ----------------------------------------------------------------------------------------------


def test_the_run_validates_and_holds_every_log_eval_and_save(finetune) -> None:
    from test_contract import check_run

    _, (_, _, run), _ = finetune
    kinds = check_run(run)
    assert kinds == {"start": 1, "snapshot": 3, "step": STEPS, "eval": 2, "done": 1}, kinds
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"]["router"] == "softmax" and manifest["lossUnit"] == "nats/token"
    assert manifest["capture"]["architecture"] == "MixtralForCausalLM"
    assert manifest["training"]["steps"] == STEPS and manifest["training"]["batch"] == 4
    assert [e["step"] for e in events(run) if e["kind"] == "snapshot"] == [0, 2, 4]
    # The probe: the eval set's examples in order (all 128 of their tokens: fewer than the 512 asked for),
    # one document each, one domain named for where they came from.
    from safetensors.torch import load_file

    evals = examples(8, 2)
    assert manifest["capture"]["tokens"] == f"first {8 * T} tokens of the eval dataset (token ids, no tokenizer)"
    for probe in [run / "probe.safetensors"] + [run / "snapshots" / f"step-{s:08d}.probe.safetensors" for s in (0, 2, 4)]:
        tensors = load_file(str(probe))
        assert tensors["tokens"].tolist() == torch.cat([e["input_ids"] for e in evals]).tolist(), probe
        assert tensors["documents"].tolist() == [i for i in range(8) for _ in range(T)], probe
        assert tensors["domains"].tolist() == [0] * (8 * T), probe
    assert manifest["domains"] == [f"first {8 * T} tokens of the eval dataset"]


def test_a_given_probe_is_cut_to_the_context_and_to_probe_tokens(tmp_path: Path) -> None:
    """`probe=` sequences replace the dataset's: each cut at max_position_embeddings (64), all at probe_tokens."""
    from safetensors.torch import load_file

    long, short, unused = [i % VOCAB for i in range(70)], [5, 6, 7, 8, 9], [1, 2, 3]
    callback = IdamoeCallback(tmp_path / "run", probe=[long, short, unused], probe_tokens=67)
    trainer = Trainer(model=mixtral(), args=arguments(tmp_path / "out", max_steps=1, eval_strategy="no", save_steps=1),
                      train_dataset=examples(8, 1), callbacks=[callback])
    trainer.train()
    tensors = load_file(str(tmp_path / "run" / "snapshots" / "step-00000000.probe.safetensors"))
    assert tensors["tokens"].tolist() == long[:64] + short[:3]
    assert tensors["documents"].tolist() == [0] * 64 + [1] * 3
    assert json.loads((tmp_path / "run" / "run.json").read_text())["capture"]["tokens"].startswith(
        "first 67 tokens of the given probe")
    with pytest.raises(ContractError, match="probe_tokens must be at least 1, got 0"):
        IdamoeCallback(tmp_path / "other", probe_tokens=0)


def test_step_loads_are_the_experts_the_model_chose(finetune) -> None:
    _, (trainer, reference, run), _ = finetune
    steps = [e for e in events(run) if e["kind"] == "step"]
    losses = {h["step"]: h["loss"] for h in trainer.state.log_history if "loss" in h}
    assert [e["step"] for e in steps] == list(range(1, STEPS + 1))
    for e in steps:
        assert e["tokens"] == 2 * 2 * T, e  # two micro-batches of two sequences
        assert e["loss"] == pytest.approx(losses[e["step"]], rel=1e-5)
        for layer in e["layers"]:
            want = reference.steps[e["step"]][layer["layer"]]
            assert layer["load"] == pytest.approx((want / want.sum()).tolist(), abs=1e-6), f"step {e['step']}"
            shares = np.asarray(want, dtype=float) / float(want.sum())
            q = np.quantile(shares, [0.5, 0.9, 0.99, 1.0]).tolist()
            assert [layer["load_quantiles"][n] for n in ("p50", "p90", "p99", "max")] == pytest.approx(q, abs=1e-6)
            assert layer["entropy"] == pytest.approx(reference.entropies[e["step"]][layer["layer"]], rel=1e-5)  # 6 digits
            assert 0 < layer["entropy"] <= 2.0  # bits, 4 experts


def test_eval_loads_are_the_eval_sets_routing(finetune) -> None:
    _, (_, reference, run), _ = finetune
    evals = [e for e in events(run) if e["kind"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4]
    for e in evals:
        assert e["heldout_tokens"] == 8 * T and "val_bpb" not in e
        for layer in e["layers"]:
            want = reference.evals[e["step"]][layer["layer"]]
            assert layer["load_topk"] == pytest.approx((want / want.sum()).tolist(), abs=1e-6)


def model_routing(model: torch.nn.Module, probe: Path, bias: bool = False) -> Dict[int, torch.Tensor]:
    """{block: experts [N, k]} the model chooses for the probe's tokens, each document its own sequence."""
    from safetensors.torch import load_file

    tensors = load_file(str(probe))
    tokens, documents = tensors["tokens"].long(), tensors["documents"].long()
    chosen: Dict[int, List[torch.Tensor]] = {}
    handles = []
    for i, gate in gate_modules(model).items():
        def hook(_m, _a, output, block=i, gate=gate):
            scores = torch.softmax(output[0].double(), dim=-1)
            selection = scores + gate.moe_statics.e_score_correction_bias.double() if bias else scores
            chosen.setdefault(block, []).append(torch.topk(selection, K, dim=-1).indices)
        handles.append(gate.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        for d in documents.unique(sorted=True):
            model(input_ids=tokens[documents == d][None], use_cache=False)
    for h in handles:
        h.remove()
    return {b: torch.cat(parts) for b, parts in chosen.items()}


def swift_experts(run: Path, step: int) -> Dict[int, List[List[int]]]:
    from torch_support import route_lines

    snap = run / "snapshots" / f"step-{step:08d}"
    out: Dict[int, List[List[int]]] = {}
    for line in route_lines(f"{snap}.safetensors", f"{snap}.probe.safetensors"):
        out.setdefault(line["layer"], []).append(line["experts"])
    return out


def test_every_snapshot_routes_the_probe_as_the_model_did(finetune) -> None:
    tmp, (_, _, run), _ = finetune
    for step in (0, 2, 4):
        model = mixtral() if step == 0 else transformers.MixtralForCausalLM.from_pretrained(tmp / "with-out" / f"checkpoint-{step}")
        probe = run / "snapshots" / f"step-{step:08d}.probe.safetensors"
        own = model_routing(model, probe)
        swift = swift_experts(run, step)
        assert sorted(swift) == sorted(own) == [0, 1]
        for b in own:
            assert swift[b] == own[b].tolist(), f"step {step}, block {b}"
        _, hidden, _ = read_probe(str(probe))
        assert sorted(hidden) == [0, 1] and hidden[0].shape == (own[0].shape[0], 32)


def test_the_training_is_the_same_without_the_callback(finetune) -> None:
    _, (with_trainer, _, _), (without_trainer, _, _) = finetune

    def logged(trainer: Trainer, key: str) -> List[float]:
        return [h[key] for h in trainer.state.log_history if key in h]

    for key in ("loss", "grad_norm", "eval_loss"):
        assert logged(with_trainer, key) == logged(without_trainer, key), key
    a, b = with_trainer.model.state_dict(), without_trainer.model.state_dict()
    assert list(a) == list(b)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_softmax_router_with_a_selection_bias_is_written(tmp_path: Path) -> None:
    from test_contract import check_run

    trainer, reference, run = train(tmp_path, "ernie", build=ernie, bias=True, eval_steps=4, save_steps=4)
    check_run(run)
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"]["router"] == "softmax", manifest["model"]
    assert manifest["capture"]["notes"][0].startswith("softmax + selection bias gate.moe_statics.e_score_correction_bias")
    for e in (e for e in events(run) if e["kind"] == "step"):
        for layer in e["layers"]:
            want = reference.steps[e["step"]][layer["layer"]]
            assert layer["load"] == pytest.approx((want / want.sum()).tolist(), abs=1e-6)
    for step in (0, STEPS):
        probe = run / "snapshots" / f"step-{step:08d}.probe.safetensors"
        model = ernie() if step == 0 else trainer.model
        own = model_routing(model, probe, bias=True)
        assert swift_experts(run, step) == {b: e.tolist() for b, e in own.items()}, f"step {step}"


def test_a_routing_the_contract_cannot_hold_is_recorded(tmp_path: Path) -> None:
    from test_contract import check_run

    trainer, reference, run = train(tmp_path, "ernie", build=lambda: ernie(norm_min=0.9), bias=True, eval_steps=4,
                                    save_steps=4)
    check_run(run)
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["model"]["router"] == "recorded" and "imported" not in manifest
    notes = manifest["capture"]["notes"]
    assert "selection bias" in notes[0] and "other gate weights on" in notes[0], notes
    for e in (e for e in events(run) if e["kind"] == "step"):
        for layer in e["layers"]:
            want = reference.steps[e["step"]][layer["layer"]]
            assert layer["load"] == pytest.approx((want / want.sum()).tolist(), abs=1e-6)
    probe = run / "snapshots" / f"step-{STEPS:08d}.probe.safetensors"
    own = model_routing(trainer.model, probe, bias=True)
    assert {b: e for b, e in swift_experts(run, STEPS).items()} == {b: e.tolist() for b, e in own.items()}


def test_a_forward_whose_choices_cannot_be_read_stops_the_recording_not_the_training(tmp_path: Path, monkeypatch,
                                                                                      caplog) -> None:
    """From step 3 on, what the blocks hand their experts cannot be decoded: one warning, the run keeps steps 1
    and 2 and its first snapshot (no later snapshot, no `done`), its lock is released, and the training ends."""
    import logging

    from idamoe_torch import trainer_hooks, writer_is_live

    class Unreadable(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 2:
                monkeypatch.setattr(trainer_hooks, "experts_call", lambda *_args: None)

    run = tmp_path / "run"
    trainer = Trainer(model=mixtral(), args=arguments(tmp_path / "out", eval_strategy="no", save_steps=STEPS),
                      train_dataset=examples(32, 1), callbacks=[IdamoeCallback(run), Unreadable()])
    with caplog.at_level(logging.WARNING, logger="idamoe_torch.trainer_callback"):
        trainer.train()
    assert trainer.state.global_step == STEPS
    logged = events(run)
    assert [(e["kind"], e["step"]) for e in logged] == [("start", 0), ("snapshot", 0), ("step", 1), ("step", 2)]
    warnings = [r.getMessage() for r in caplog.records if "stopped recording" in r.getMessage()]
    assert len(warnings) == 1 and "forwards' expert choices could not be read by step 3" in warnings[0], warnings
    assert not writer_is_live(str(run))


def test_a_model_without_an_moe_router_is_refused_in_one_line(tmp_path: Path) -> None:
    torch.manual_seed(0)
    dense = transformers.LlamaForCausalLM(transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=48,
                                                                    num_hidden_layers=2, num_attention_heads=4,
                                                                    num_key_value_heads=2, max_position_embeddings=64))
    trainer = Trainer(model=dense, args=arguments(tmp_path / "out", eval_strategy="no"), train_dataset=examples(8, 1),
                      callbacks=[IdamoeCallback(tmp_path / "run")])
    with pytest.raises(ContractError) as caught:
        trainer.train()
    message = str(caught.value)
    assert message.startswith("IdamoeCallback: LlamaForCausalLM: no MoE router found") and "\n" not in message, message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not (tmp_path / "run").exists()


def test_a_run_directory_in_use_is_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ContractError, match=r"full: exists and is not empty \(1 entry\)"):
        IdamoeCallback(tmp_path / "full")
    assert os.listdir(tmp_path / "full") == ["notes.txt"]


def test_trl_sft_trainer(tmp_path: Path) -> None:
    """TRL's SFTTrainer on a tokenized dataset, with a word-level tokenizer built here (nothing downloaded)."""
    import datasets
    import trl
    from tokenizers import Tokenizer, models, pre_tokenizers

    from test_contract import check_run

    words = ["<pad>", "<eos>", "<unk>"] + [f"w{i}" for i in range(VOCAB - 3)]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<eos>",
                                                     unk_token="<unk>")
    g = torch.Generator().manual_seed(3)
    texts = [" ".join(words[int(i)] for i in torch.randint(3, VOCAB, (T - 1,), generator=g)) for _ in range(16)]
    model = mixtral()
    reference = Reference(model)
    config = trl.SFTConfig(output_dir=str(tmp_path / "out"), max_steps=3, per_device_train_batch_size=2, logging_steps=1,
                           save_steps=3, report_to=[], use_cpu=True, disable_tqdm=True, save_only_model=True)
    trainer = trl.SFTTrainer(model=model, args=config, train_dataset=datasets.Dataset.from_dict({"text": texts}),
                             processing_class=tokenizer)
    trainer.add_callback(IdamoeCallback(tmp_path / "run"))
    trainer.add_callback(reference)
    trainer.train()
    run = tmp_path / "run"
    assert check_run(run) == {"start": 1, "snapshot": 2, "step": 3, "done": 1}
    manifest = json.loads((run / "run.json").read_text())
    assert "SFTTrainer" in manifest["capture"]["notes"][-2] and manifest["capture"]["tokens"].endswith("(tokenizer)")
    # Under SFTConfig's mixed precision the gates compute in bfloat16: checked with its tolerances, the
    # routing is the contract's softmax rule, not recorded decisions.
    assert config.bf16 and manifest["model"]["router"] == "softmax", (config.bf16, manifest["model"], manifest["capture"]["notes"])
    for e in (e for e in events(run) if e["kind"] == "step"):
        for layer in e["layers"]:
            want = reference.steps[e["step"]][layer["layer"]]
            assert layer["load"] == pytest.approx((want / want.sum()).tolist(), abs=1e-6)
    _, _, meta = read_probe(str(run / "snapshots" / "step-00000003.probe.safetensors"))
    assert json.loads(meta["idamoe.vocab"])[5] == "w2"


# ----------------------------------------------------------------------------------------------
# torch.distributed


def distributed_arguments(out: Path, world: int) -> TrainingArguments:
    """The same global batch of the same examples at every step whatever the world size (sequential
    sampling, 4 sequences a step; eval batches that split the 8 eval examples evenly over the ranks, so
    accelerate repeats none), and learning rate 0, so the routing depends on the examples alone and the
    counts must be equal exactly: ranks add up to the single process."""
    return arguments(out, per_device_train_batch_size=4 // world, per_device_eval_batch_size=4 // world,
                     gradient_accumulation_steps=1, learning_rate=0.0,
                     train_sampling_strategy="sequential", ddp_backend="gloo" if world > 1 else None, save_steps=4)


def worker(run: str, world: int) -> None:
    model = mixtral()
    trainer = Trainer(model=model, args=distributed_arguments(Path(run + "-out"), world), train_dataset=examples(32, 1),
                      eval_dataset=examples(8, 2), callbacks=[IdamoeCallback(run)])
    trainer.train()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_sum_to_the_single_process(tmp_path: Path) -> None:
    single = tmp_path / "single"
    worker(str(single), 1)
    run = tmp_path / "two"
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-W", "ignore", __file__, "worker", str(run), "2"], stderr=subprocess.PIPE,
                              text=True, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in (0, 1)]
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(e[-2000:] for e in errors)
    two, one = events(run), events(single)
    for kind in ("step", "eval"):
        a, b = [e for e in two if e["kind"] == kind], [e for e in one if e["kind"] == kind]
        assert len(a) == len(b) > 0
        for x, y in zip(a, b):
            assert x["step"] == y["step"]
            fields = ("tokens", "cv_mean") if kind == "step" else ("heldout_tokens", "heldout_cv_mean_top1", "heldout_cv_mean_topk")
            assert [x[f] for f in fields] == [y[f] for f in fields], (kind, x["step"])
            key = "load" if kind == "step" else "load_topk"
            assert [l[key] for l in x["layers"]] == [l[key] for l in y["layers"]], (kind, x["step"])


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "worker":
    worker(sys.argv[2], int(sys.argv[3]))
