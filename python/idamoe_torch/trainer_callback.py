"""`IdamoeCallback`: one line added to a Hugging Face `Trainer` (or TRL's `SFTTrainer`) turns any MoE
fine-tune into a run directory `idamoe inspect` follows live (docs/importing.md, "Hugging Face Trainer").

    trainer.add_callback(IdamoeCallback("runs/ft"))          # or Trainer(..., callbacks=[IdamoeCallback("runs/ft")])

The routers are found as `capture` finds them (`find_gates`: a gate weight [E, D] in a block holding its
E experts) and how they route is checked as `capture` checks it (`check_routing`), on a fixed probe: the
first `probe_tokens` tokens of the eval dataset (the train dataset when there is none), chosen once at
`on_train_begin`. Forward hooks then read, in every training forward, what each block hands its experts
(the top-k indices the model chose; `output_router_logits` is not needed) and the gate's input (for the
entropy of the router's distribution), summed over micro-batches, gradient accumulation and ranks until
the Trainer logs; eval-mode forwards give the held-out CV of `on_evaluate`; `on_save` writes a snapshot.

The hooks read and never write: they run under `no_grad` on detached tensors, draw no random numbers and
leave every module's mode alone, so the loss and the gradients are those of the run without them.

Here: the Trainer's events, the run and its snapshots. The hooks are trainer_hooks.py's, the probe's
source trainer_probe.py's, run.json's records of the fine-tune trainer_records.py's.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from . import distributed
from .capture import FoundGate, Routing, check_routing, find_gates, vocabulary
from .files import publish, write_probe
from .heldout import HeldoutLoads
from .layers import ContractError
from .recorded import ProbeRows, RecordedRun, load_fields
from .run_lock import check_new_run_directory
from .run_writer import RunWriter, __version__, json_safe, round6
from .trainer_hooks import BlockWatcher, outside_backward
from .trainer_probe import calling_trainer, probe_windows
from .trainer_records import as_number, capture_record, language_config, model_settings, training_settings

try:  # the package itself does not need transformers; the callback does
    from transformers import TrainerCallback as _CallbackBase
except ImportError:  # pragma: no cover - exercised only without transformers
    _CallbackBase = object  # type: ignore[misc,assignment]

logger = logging.getLogger(__name__)

#: Probe tokens taken from the dataset when not told otherwise.
PROBE_TOKENS = 512


class IdamoeCallback(_CallbackBase):  # type: ignore[misc,valid-type]
    """A `transformers.TrainerCallback` writing run directory `run_dir` (a new path or an empty
    directory, checked here, before any training) of a Hugging Face MoE fine-tune:

    - `step` events at every logging step: the Trainer's loss (nats/token), lr and grad_norm, and per MoE
      block the load of the experts the model chose in the training forwards since the last log (over
      micro-batches, gradient accumulation and ranks), its CV, MaxVio and the router distribution's entropy;
    - `eval` events at `on_evaluate`: the held-out CV (top-1, top-k, gate-weighted) of the eval set's routing;
    - snapshots at step 0 (`on_train_begin`) and at every save: the routers (a softmax or sigmoid-bias
      checkpoint when a rule of the contract reproduces the model on every probe token, else the probe
      tokens' recorded decisions) and the probe's router inputs `layers.{i}.hidden`.

    `probe` gives the probe's token-id sequences (each its own sequence) instead of the dataset's first
    examples; `probe_tokens` caps its length. A model without an MoE router, or whose routing cannot be
    read, is refused at `on_train_begin` with one line (ContractError). Under torch.distributed every
    rank sums its counts into rank 0's, which alone writes."""

    def __init__(self, run_dir: "str | os.PathLike[str]", *, probe_tokens: int = PROBE_TOKENS,
                 probe: Optional[Sequence[Sequence[int]]] = None) -> None:
        if _CallbackBase is object:
            raise ContractError("IdamoeCallback needs transformers: pip install transformers accelerate")
        if probe_tokens < 1:
            raise ContractError(f"IdamoeCallback: probe_tokens must be at least 1, got {probe_tokens}")
        self.run_dir = os.fspath(run_dir)
        if _launch_rank() == 0:  # refused here, before the Trainer runs anything (rank 0 alone writes)
            check_new_run_directory(self.run_dir)
        self.probe_tokens = int(probe_tokens)
        self.probe = [list(map(int, s)) for s in probe] if probe is not None else None
        self._reset()

    def _reset(self) -> None:
        self.model: Optional[nn.Module] = None
        self.gates: Dict[int, FoundGate] = {}
        self.kind = ""
        self.top_k = 0
        self.windows: List[List[int]] = []
        self.device = "cpu"
        self.dtype = torch.float32
        self.config: Any = None
        self.text_config: Any = None
        self.writer: Optional[RunWriter] = None
        self.recorded: Optional[RecordedRun] = None
        self.watchers: Dict[int, BlockWatcher] = {}
        self.handles: List[Any] = []
        self.heldout: Optional[HeldoutLoads] = None
        self.metadata: Dict[str, str] = {}
        self.last_step: Optional[int] = None
        self.last_time: Optional[float] = None
        self.snapshotted: set = set()
        self.paused = False
        self.failed: Optional[str] = None
        self.active = False

    # ------------------------------------------------------------------------------------------
    # the Trainer's events

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Optional[nn.Module] = None, **kwargs: Any) -> None:
        """Finds the routers, chooses the probe, checks how the model routes on it (every rank, the same
        parameters: the same decisions), creates the run on rank 0 with snapshot `global_step`, and
        installs the hooks. Every refusal is one line."""
        if self.active:
            raise ContractError(f"IdamoeCallback: {self.run_dir} already records a training; one callback per run")
        if model is None:
            raise ContractError("IdamoeCallback: the Trainer handed no model to on_train_begin")
        trainer = calling_trainer()
        self.model = model
        self.config = getattr(model, "config", None)
        text_config = self.text_config = language_config(self.config)
        hidden_size = getattr(text_config, "hidden_size", None)
        if not isinstance(hidden_size, int):
            raise ContractError(f"IdamoeCallback: {type(model).__name__} has no config.hidden_size to find its routers by")
        try:
            self.gates = find_gates(model, hidden_size)
        except ContractError as e:
            raise ContractError(f"IdamoeCallback: {type(model).__name__}: {e}") from None
        embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
        weight = getattr(embeddings, "weight", None)
        first = weight if isinstance(weight, torch.Tensor) else next(model.parameters())
        self.device = str(first.device)
        gate_weight = next(iter(self.gates.values())).module.weight  # type: ignore[union-attr]
        # The check's tolerances are those of the precision the gates compute in: the Trainer's mixed
        # precision (accelerate runs the model's forward under autocast, the check's included) or
        # the gate weights' own type.
        mixed = torch.bfloat16 if getattr(args, "bf16", False) else torch.float16 if getattr(args, "fp16", False) else None
        self.dtype = mixed or (gate_weight.dtype if isinstance(gate_weight, torch.Tensor) else torch.float32)
        self.windows, source = self._probe_windows(trainer, kwargs.get("train_dataloader"), text_config)
        try:
            routing = self._check(keep_choices=True)
        except ContractError as e:
            raise ContractError(f"IdamoeCallback: {type(model).__name__}: {e}") from None
        if routing.unseen:
            b = next(iter(routing.unseen))
            raise ContractError(f"IdamoeCallback: {self.gates[b].name}: the experts the model chooses cannot be read "
                                f"({routing.unseen[b]}), so neither loads nor snapshots can be recorded")
        router = next(iter(routing.routers.values()))
        self.kind = "recorded" if routing.unverified else router.kind
        self.top_k = router.top_k
        self.metadata = router.metadata()
        self.watchers = {b: BlockWatcher(self, b, g, routing.routers[b], routing.sources[b]) for b, g in self.gates.items()}
        self.heldout = HeldoutLoads({b: g.experts for b, g in self.gates.items()})
        ok = torch.ones(1, dtype=torch.float64)
        error: Optional[BaseException] = None
        if distributed.is_writer():
            try:
                self._create(args, state, trainer, routing, source, kwargs.get("processing_class"))
            except BaseException as e:  # every rank learns that rank 0 could not create the run
                error, ok = e, torch.zeros(1, dtype=torch.float64)
        if float(distributed.broadcast_from_writer(ok)[0]) == 0.0:
            if error is not None:
                raise error
            raise ContractError(f"IdamoeCallback: rank 0 could not create {self.run_dir}; see its error")
        for w in self.watchers.values():
            self.handles.extend(w.install())
        self.active = True
        self.last_step = int(state.global_step)
        self.last_time = time.time()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Eval forwards counted from here on belong to the next `on_evaluate` (an evaluation follows the
        optimizer step it measures)."""
        if self.heldout is not None:
            self.heldout = HeldoutLoads(self.heldout.experts)

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        """A training log (it holds `loss`): the `step` event of the forwards since the last one."""
        if not self.active or logs is None or "loss" not in logs:
            return
        self._step(int(state.global_step), logs)

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Optional[Mapping[str, Any]] = None,
                    **kwargs: Any) -> None:
        """An `eval` event with the held-out CV of the eval-mode forwards since the last optimizer step
        (summed over ranks). The eval loss is not written: the contract's `val_bpb` is bits per byte."""
        if not self.active or self.heldout is None:
            return
        loads, self.heldout = self.heldout.sum_over_ranks(), HeldoutLoads(self.heldout.experts)
        fields = loads.fields(round6)
        if fields and not self.failed:
            self._event(int(state.global_step), "eval", **fields)

    def on_predict(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        """`Trainer.predict` forwards are not an evaluation: their counts are dropped."""
        if self.heldout is not None:
            self.heldout = HeldoutLoads(self.heldout.experts)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Rank 0: a snapshot of the routers at this step with the probe's router inputs."""
        if self.active and not self.failed:
            self._snapshot(int(state.global_step))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """The forwards after the last log (no loss: the Trainer logged none for them), `done`, and the
        hooks removed; the run is released."""
        if not self.active:
            return
        step = int(state.global_step)
        if self.last_step is not None and step > self.last_step and not self.failed:
            self._step(step, {})
        for h in self.handles:
            h.remove()
        self.handles = []
        if self.failed:
            self._close()
        elif self.writer is not None:
            self.writer.finish(step)
        elif self.recorded is not None:
            self.recorded._event(step, "done")
            self.recorded.stop()
        self.active = False

    # ------------------------------------------------------------------------------------------
    # probe and run

    def _probe_windows(self, trainer: Any, train_loader: Any, text_config: Any) -> Tuple[List[List[int]], str]:
        """The probe's token-id sequences and where they came from (run.json `capture.tokens`)."""
        return probe_windows(self.probe, self.probe_tokens, trainer, train_loader, text_config)

    def _check(self, keep_choices: bool) -> Routing:
        """`capture`'s check of every routing rule on the probe, with the model in eval mode and gradients
        off (each module's mode restored), the callback's own hooks paused."""
        assert self.model is not None
        modes = [(m, m.training) for m in self.model.modules()]
        self.paused = True
        self.model.eval()
        try:
            return check_routing(self.model, self.gates, self.windows, self.text_config, device=self.device,
                                 dtype=self.dtype, unverified=True, keep_choices=keep_choices)
        finally:
            for m, mode in modes:
                m.training = mode
            self.paused = False

    def _create(self, args: Any, state: Any, trainer: Any, routing: Routing, source: str, tokenizer: Any) -> None:
        """run.json, the probe, the `start` event and the snapshot of step `global_step` (rank 0)."""
        assert self.model is not None
        tokens = torch.tensor([t for w in self.windows for t in w], dtype=torch.int64)
        documents = torch.cat([torch.full((len(w),), i, dtype=torch.int64) for i, w in enumerate(self.windows)])
        domains = torch.zeros(tokens.numel(), dtype=torch.int64)
        vocab: List[str] = vocabulary(tokenizer) if tokenizer is not None and hasattr(tokenizer, "batch_decode") else []
        parameters = sum(p.numel() for p in self.model.parameters())
        model_config, training_config = model_settings(self.config), training_settings(args, state, self.config)
        capture = capture_record(self.model, self.config, self.gates, routing, source, args, trainer, tokenizer)
        step = int(state.global_step)
        if self.kind != "recorded":
            self.writer = RunWriter(self.run_dir, routing.routers, probe_tokens=tokens, probe_forward=lambda _t: None,
                                    probe_documents=documents, probe_domains=domains, domain_names=[source], vocab=vocab,
                                    model_config=model_config, training_config=training_config, parameters=parameters,
                                    capture=capture, loss_unit="nats/token")
            try:
                self.writer.snapshot(step, hidden=routing.hidden)
            except BaseException:
                self.writer.close()
                raise
            self.snapshotted.add(step)
            return
        gate = next(iter(self.gates.values()))
        run = RecordedRun(self.run_dir, experts=gate.experts, top_k=self.top_k, blocks=list(self.gates),
                          imported={"producer": "transformers Trainer"}, domains=[source], vocab=vocab, follow=True)
        self.recorded = run
        try:
            # RecordedRun writes an import's run.json; this run is a fine-tune whose routers are recorded.
            path = os.path.join(run.dir, "run.json")
            with open(path, "rb") as f:
                body = json.loads(f.read())
            body.pop("imported", None)
            body.update(producer=f"idamoe_torch {__version__}", capture=capture, parameters=int(parameters),
                        probeTokens=int(tokens.numel()),
                        model={**body["model"], **model_config, "router": "recorded", "experts": gate.experts,
                               "topK": self.top_k},
                        training=training_config)
            publish((json.dumps(json_safe(body), indent=2, sort_keys=True) + "\n").encode(), path)
            write_probe(os.path.join(run.dir, "probe.safetensors"), tokens, None, domains, documents, [source], vocab)
            self._write_recorded(step, routing)
        except BaseException:
            run.stop()
            raise

    def _write_recorded(self, step: int, routing: Routing) -> None:
        """A recorded snapshot: the probe tokens' experts and gate weights as the blocks handed them to their
        experts, the softmax routers' logits, and the router inputs."""
        assert self.recorded is not None
        tokens = np.array([t for w in self.windows for t in w], dtype=np.int64)
        documents = np.concatenate([np.full(len(w), i, dtype=np.int64) for i, w in enumerate(self.windows)])
        rows = ProbeRows(experts={}, tokens=tokens, domains=np.zeros(len(tokens), dtype=np.int64), documents=documents)
        for b, (experts, weights) in routing.choices.items():
            rows.experts[b] = experts.numpy()
            if weights is not None:
                rows.weights[b] = weights.float().numpy()
            router = routing.routers[b]
            if router.kind == "softmax":  # the recorded distribution is the softmax of recorded logits
                rows.logits[b] = router.logits(routing.hidden[b]).detach().float().numpy()
            rows.hidden[b] = routing.hidden[b].numpy()
        self.recorded.snapshot(step, rows)
        self.snapshotted.add(step)

    def _snapshot(self, step: int) -> None:
        """Rank 0: the probe checked again on the model as it is now; the same rule's routers (or the
        recorded decisions) and the router inputs written. A rule that no longer holds writes nothing and
        says so in one line: a snapshot is exact or absent."""
        if not distributed.is_writer() or step in self.snapshotted:
            return
        try:
            routing = self._check(keep_choices=self.kind == "recorded")
        except ContractError as e:
            logger.warning("IdamoeCallback: no snapshot at step %d: %s", step, e)
            return
        if self.kind == "recorded":
            self._write_recorded(step, routing)
            return
        router = next(iter(routing.routers.values()))
        if routing.unverified or router.metadata() != self.metadata:
            logger.warning("IdamoeCallback: no snapshot at step %d: %s", step,
                           routing.notes[-1] if routing.unverified else "the routing rule changed since the first snapshot")
            return
        assert self.writer is not None
        for b, r in routing.routers.items():
            self.writer.routers[b].load_state_dict(r.state_dict())
        self.writer.snapshot(step, hidden=routing.hidden)
        self.snapshotted.add(step)

    def _step(self, step: int, logs: Mapping[str, Any]) -> None:
        """Every rank: the counts since the last step event summed over ranks; rank 0 writes the event."""
        blocks = list(self.watchers)
        missed = float(sum(w.take_missed() for w in self.watchers.values()))
        local = torch.cat([self.watchers[b].take() for b in blocks] + [torch.tensor([missed], dtype=torch.float64)])
        summed = distributed.sum_over_ranks(local)  # every rank learns of a call any rank could not read
        if self.failed:
            return
        if float(summed[-1]) > 0:
            first = next((w.error for w in self.watchers.values() if w.error), "")
            self._fail(f"{int(summed[-1])} forwards' expert choices could not be read by step {step}"
                       + (f" ({first})" if first else ""))
            return
        layers: List[Dict[str, Any]] = []
        offset, tokens = 0, 0
        for b in blocks:
            e = self.gates[b].experts
            n, entropy, counts = float(summed[offset]), float(summed[offset + 1]), summed[offset + 2: offset + 2 + e].numpy()
            offset += 2 + e
            tokens = max(tokens, int(n))
            layers.append({"layer": b, **load_fields(counts), "entropy": round6(entropy / n) if n > 0 else 0.0})
        if tokens == 0:
            return  # no training forward since the last event
        fields: Dict[str, Any] = {"layers": layers, "cv_mean": round6(sum(l["cv"] for l in layers) / len(layers)),
                                  "tokens": tokens}
        for key, name in (("loss", "loss"), ("learning_rate", "lr"), ("grad_norm", "grad_norm")):
            value = as_number(logs.get(key))
            if value is not None:
                fields[name] = round6(value)
        now = time.time()
        if self.last_time is not None and now > self.last_time:
            fields["tokens_per_s"] = round(tokens / (now - self.last_time))
        self.last_time = now
        self.last_step = step
        self._event(step, "step", **fields)

    def _event(self, step: int, kind: str, **fields: Any) -> None:
        """One event line (rank 0; nothing elsewhere)."""
        if self.writer is not None:
            self.writer._event(step, kind, **fields)
        elif self.recorded is not None:
            self.recorded._event(step, kind, **fields)

    def _fail(self, why: str) -> None:
        """Recording stops (the training does not): one warning line; the run keeps what it logged."""
        self.failed = why
        logger.warning("IdamoeCallback: stopped recording %s: %s", self.run_dir, why)
        for h in self.handles:
            h.remove()
        self.handles = []

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.recorded is not None:
            self.recorded.stop()

    def counting(self, module: nn.Module) -> Optional[str]:
        """What a forward of `module` counts for: `train` (training mode, outside a backward pass: a
        recomputation under gradient checkpointing is the same tokens again), `eval`, or None."""
        if self.paused or self.failed:
            return None
        if module.training:
            return "train" if outside_backward() else None
        return "eval"


# ----------------------------------------------------------------------------------------------
# helpers


def _launch_rank() -> int:
    """This process's rank: the process group's, or before it exists the launcher's `RANK` (torchrun, accelerate)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return distributed.rank()
    try:
        return int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        return 0
