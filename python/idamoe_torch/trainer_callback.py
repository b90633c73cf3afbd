"""`IdamoeCallback`: one line added to a Hugging Face `Trainer` (or TRL's `SFTTrainer`) turns any MoE
fine-tune into a run directory `idamoe inspect` follows live (docs/importing-trainer.md).

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
"""
from __future__ import annotations

import inspect
import json
import logging
import math
import os
import time
from collections.abc import Mapping as MappingABC
from itertools import islice
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .capture import FoundGate, Routing, check_routing, experts_call, find_gates, gate_output, vocabulary
from .files import publish, write_probe
from .heldout import HeldoutLoads
from .layers import ContractError
from .recorded import ProbeRows, RecordedRun, cv_and_max_vio, load_shares
from .routing import entropy_bits
from .run_lock import check_new_run_directory
from .run_writer import RunWriter, __version__, json_safe, round6
from .softmax_router import LinearGateRouter

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
            raise ContractError("IdamoeCallback needs transformers: pip install './python[capture]' accelerate")
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
        self.watchers: Dict[int, _Watcher] = {}
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
        trainer = _calling_trainer()
        self.model = model
        self.config = getattr(model, "config", None)
        text_config = self.text_config = _text_config(self.config)
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
        self.dtype = gate_weight.dtype if isinstance(gate_weight, torch.Tensor) else torch.float32
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
        self.watchers = {b: _Watcher(self, b, g, routing.routers[b], routing.sources[b]) for b, g in self.gates.items()}
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
        limit = getattr(text_config, "max_position_embeddings", None)
        longest = limit if isinstance(limit, int) and limit > 0 else None
        if self.probe is not None:
            sequences, source = self.probe, "given probe"
        else:
            dataset, name = None, ""
            if trainer is not None:
                evals = getattr(trainer, "eval_dataset", None)
                if isinstance(evals, MappingABC):
                    name, dataset = next(iter(evals.items()), ("", None))
                    name = f"eval dataset {name}"
                elif evals is not None:
                    dataset, name = evals, "eval dataset"
                if dataset is None and getattr(trainer, "train_dataset", None) is not None:
                    dataset, name = trainer.train_dataset, "train dataset"
            if dataset is None and train_loader is not None:
                dataset, name = getattr(train_loader, "dataset", None), "train dataset"
            if dataset is None:
                raise ContractError("IdamoeCallback: no dataset to take the probe from; pass probe=[[token ids], ...]")
            sequences, source = _token_ids(dataset, name, self.probe_tokens), name
        windows: List[List[int]] = []
        total = 0
        for seq in sequences:
            take = list(seq)[:longest][: self.probe_tokens - total]
            if take:
                windows.append(take)
                total += len(take)
            if total >= self.probe_tokens:
                break
        if not windows:
            raise ContractError(f"IdamoeCallback: the {source} gives no probe tokens")
        return windows, f"first {total} tokens of the {source}"

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
        model_config, training_config = _model_settings(self.config), _training_settings(args, state, self.config)
        capture = _capture_record(self.model, self.config, self.gates, routing, source, args, trainer, tokenizer)
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
            cv, vio = cv_and_max_vio(counts)
            layers.append({"layer": b, "load": load_shares(counts), "cv": round6(cv), "max_vio": round6(vio),
                           "entropy": round6(entropy / n) if n > 0 else 0.0})
        if tokens == 0:
            return  # no training forward since the last event
        fields: Dict[str, Any] = {"layers": layers, "cv_mean": round6(sum(l["cv"] for l in layers) / len(layers)),
                                  "tokens": tokens}
        for key, name in (("loss", "loss"), ("learning_rate", "lr"), ("grad_norm", "grad_norm")):
            value = _number(logs.get(key))
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
            return "train" if _outside_backward() else None
        return "eval"


class _Watcher:
    """One MoE block's hooks and counts: its gate's input (tokens, the router distribution's entropy) and
    the experts the model chose (what the block hands its experts, or the gate's own output)."""

    def __init__(self, owner: IdamoeCallback, block: int, gate: FoundGate, router: LinearGateRouter, source: str) -> None:
        self.owner, self.block, self.gate, self.router, self.source = owner, block, gate, router, source
        self.experts = gate.experts
        self.width = int(gate.module.weight.shape[1])  # type: ignore[union-attr]
        self.phase: Optional[str] = None
        self.rows = 0
        self.tokens = 0
        self.entropy: Any = 0.0  # a tensor on the model's device once a forward was counted (no sync per forward)
        self.counts = torch.zeros(self.experts, dtype=torch.float64)
        self.missed = 0
        #: The first exception a hook met (the forward goes on; the next step event stops the recording).
        self.error = ""

    def install(self) -> List[Any]:
        handles = [self.gate.module.register_forward_pre_hook(self._guarded(self.gate_pre), with_kwargs=True)]
        if self.source == "experts":
            experts = getattr(self.gate.block_module, "experts")
            handles.append(experts.register_forward_pre_hook(self._guarded(self.experts_pre), with_kwargs=True))
        else:
            handles.append(self.gate.module.register_forward_hook(self._guarded(self.gate_post), with_kwargs=True))
        return handles

    def _guarded(self, hook: Any) -> Any:
        """`hook` that never raises into the model's forward: a failure is counted as a missed call."""
        def run(*args: Any) -> None:
            try:
                hook(*args)
            except Exception as e:  # noqa: BLE001 - the training must go on; the run says why it stopped
                self.missed += 1
                self.phase = None
                self.error = self.error or f"{self.gate.name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return run

    def gate_pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.phase = self.owner.counting(module)
        if self.phase is None:
            return
        h = args[0] if args else next(iter(kwargs.values()))
        x = h.detach().reshape(-1, self.width)
        self.rows = int(x.shape[0])
        if self.phase != "train":
            return
        weight = self.gate.module.weight  # type: ignore[union-attr]
        bias = getattr(self.gate.module, "bias", None)
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            logits = F.linear(x.float(), weight.detach().float(),
                              bias.detach().float() if isinstance(bias, torch.Tensor) else None)
            probabilities = self.router.decide(logits.double())["probabilities"]
            self.entropy = self.entropy + entropy_bits(probabilities).sum()
        self.tokens += self.rows

    def experts_pre(self, _module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self.phase is None:
            return
        decoded = experts_call(args, kwargs, self.experts)
        self.count(decoded[1] if decoded is not None else None)

    def gate_post(self, _module: nn.Module, _args: tuple, _kwargs: dict, output: Any) -> None:
        if self.phase is None:
            return
        self.count(gate_output(output, self.rows, self.experts))

    def count(self, choices: Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]]) -> None:
        phase, self.phase = self.phase, None
        if choices is None:
            self.missed += 1
            return
        experts, weights = choices
        if phase == "train":
            self.counts += torch.bincount(experts.reshape(-1), minlength=self.experts).double()
        elif self.owner.heldout is not None:
            if weights is None:
                weights = torch.full(experts.shape, 1.0 / experts.shape[1], dtype=torch.float64)
            self.owner.heldout.add(self.block, experts, weights)

    def take(self) -> torch.Tensor:
        """[tokens, entropy sum (bits), counts [E]] since the last call, float64 on the CPU; reset."""
        entropy = float(self.entropy) if isinstance(self.entropy, torch.Tensor) else float(self.entropy)
        out = torch.cat([torch.tensor([float(self.tokens), entropy], dtype=torch.float64), self.counts])
        self.tokens, self.entropy, self.counts = 0, 0.0, torch.zeros(self.experts, dtype=torch.float64)
        return out

    def take_missed(self) -> int:
        missed, self.missed = self.missed, 0
        return missed


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


def _outside_backward() -> bool:
    """False while the autograd engine runs a backward pass (where gradient checkpointing recomputes)."""
    current = getattr(torch._C, "_current_graph_task_id", None)
    return current is None or current() == -1


def _calling_trainer() -> Any:
    """The transformers Trainer whose method is calling this callback (its datasets hold the probe), or None."""
    try:
        from transformers import Trainer
    except ImportError:  # pragma: no cover
        return None
    frame = inspect.currentframe()
    try:
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, Trainer):
                return owner
            frame = frame.f_back
    finally:
        del frame
    return None


def _examples(dataset: Any) -> Iterator[Any]:
    """The dataset's examples from the first: by index when it has a length, else a fresh iterator."""
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        for i in range(len(dataset)):
            yield dataset[i]
    else:
        yield from iter(dataset)


def _token_ids(dataset: Any, name: str, limit: int) -> List[List[int]]:
    """Token-id sequences of the first examples (their `input_ids`, padding left out by `attention_mask`),
    up to `limit` tokens."""
    out: List[List[int]] = []
    total = 0
    for n, example in enumerate(islice(_examples(dataset), 100_000)):
        ids = example.get("input_ids") if isinstance(example, MappingABC) else None
        if ids is None:
            keys = sorted(example) if isinstance(example, MappingABC) else type(example).__name__
            raise ContractError(f"IdamoeCallback: example {n} of the {name} has no input_ids ({keys}); the probe needs "
                                "tokenized examples, or pass probe=[[token ids], ...]")
        flat = _int_list(ids)
        mask = example.get("attention_mask")
        if mask is not None:
            keep = _int_list(mask)
            if len(keep) == len(flat):
                flat = [t for t, m in zip(flat, keep) if m]
        if flat:
            out.append(flat)
            total += len(flat)
        if total >= limit:
            break
    return out


def _int_list(values: Any) -> List[int]:
    if isinstance(values, torch.Tensor):
        return [int(v) for v in values.reshape(-1).tolist()]
    array = np.asarray(values)
    return [int(v) for v in array.reshape(-1).tolist()]


def _number(value: Any) -> Optional[float]:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _text_config(config: Any) -> Any:
    """The language model's config (a multimodal config's text part)."""
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _positive_int(value: Any) -> Optional[int]:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _model_settings(config: Any) -> Dict[str, Any]:
    """run.json `model` keys the Hugging Face config gives (ModelConfig's names; the routers give the rest)."""
    text = _text_config(config)
    out: Dict[str, Any] = {}
    for key, names in (("blocks", ("num_hidden_layers",)), ("width", ("hidden_size",)), ("vocab", ("vocab_size",)),
                       ("heads", ("num_attention_heads",))):
        for name in names:
            value = _positive_int(getattr(text, name, None))
            if value is not None:
                out[key] = value
                break
    return out


def _training_settings(args: Any, state: Any, config: Any) -> Dict[str, Any]:
    """run.json `training` keys (TrainingOptions' names) the Trainer's arguments give."""
    world = _positive_int(getattr(args, "world_size", 1)) or 1
    batch = (_positive_int(getattr(args, "per_device_train_batch_size", None)) or 0) * \
        (_positive_int(getattr(args, "gradient_accumulation_steps", 1)) or 1) * world
    out: Dict[str, Any] = {}
    if batch:
        out["batch"] = batch
    steps = _positive_int(getattr(state, "max_steps", None))
    if steps:
        out["steps"] = steps
        if hasattr(args, "get_warmup_steps"):
            out["warmup"] = int(args.get_warmup_steps(steps))
    for key, name in (("learningRate", "learning_rate"), ("weightDecay", "weight_decay"),
                      ("gradientClip", "max_grad_norm")):
        value = _number(getattr(args, name, None))
        if value is not None and math.isfinite(value):
            out[key] = value
    seed = getattr(args, "seed", None)
    if isinstance(seed, int) and seed >= 0:
        out["seed"] = seed
    for key, strategy, every in (("evalEvery", "eval_strategy", "eval_steps"), ("snapshotEvery", "save_strategy", "save_steps")):
        if str(getattr(getattr(args, strategy, None), "value", getattr(args, strategy, None))) == "steps":
            value = getattr(args, every, None)
            if isinstance(value, float) and 0 < value < 1 and steps:
                value = math.ceil(value * steps)  # a share of the steps
            value = _positive_int(int(value)) if isinstance(value, (int, float)) and value >= 1 else None
            if value:
                out[key] = value
    # The Switch auxiliary loss the model adds to the task loss (only when it returns router logits).
    text = _text_config(config)
    aux = _number(getattr(text, "router_aux_loss_coef", None))
    if aux is not None:
        out["auxLoss"] = aux if getattr(text, "output_router_logits", False) else 0.0
    z = _number(getattr(text, "router_z_loss_coef", None))
    if z is not None:
        out["zLoss"] = z if getattr(text, "output_router_logits", False) else 0.0
    return out


def _capture_record(model: nn.Module, config: Any, gates: Dict[int, FoundGate], routing: Routing, source: str,
                    args: Any, trainer: Any, tokenizer: Any) -> Dict[str, Any]:
    """run.json `capture`: the architecture, each gate's module, how the snapshots route and were checked,
    and the fine-tune's settings the schema has no key for."""
    architecture = (getattr(config, "architectures", None) or [type(model).__name__])[0]
    notes = list(routing.notes)
    if routing.unverified:
        notes = [f"recorded decisions: snapshots hold the probe tokens' experts and gate weights as each block hands "
                 f"them to its experts, because {notes[-1].replace('UNVERIFIED (--unverified): ', '')}"]
    world = getattr(args, "world_size", 1)
    precision = "bf16" if getattr(args, "bf16", False) else "fp16" if getattr(args, "fp16", False) else "fp32"
    scheduler = getattr(getattr(args, "lr_scheduler_type", None), "value", getattr(args, "lr_scheduler_type", None))
    optim = getattr(getattr(args, "optim", None), "value", getattr(args, "optim", None))
    notes.append(f"fine-tuned by {type(trainer).__name__ if trainer is not None else 'a transformers Trainer'} with "
                 f"IdamoeCallback: {getattr(args, 'per_device_train_batch_size', '?')} sequences a device x "
                 f"{getattr(args, 'gradient_accumulation_steps', 1)} accumulated x {world} ranks a step, {precision}, "
                 f"{optim}, lr schedule {scheduler}, gradient checkpointing "
                 f"{'on' if getattr(args, 'gradient_checkpointing', False) else 'off'}")
    notes.append("step loads: the experts each block handed its experts in the training forwards since the previous "
                 "log (summed over micro-batches and ranks); loss: the Trainer's, nats per token")
    record: Dict[str, Any] = {"architecture": str(architecture), "gates": {str(b): g.name for b, g in gates.items()},
                              "notes": notes, "tokens": source + (" (tokenizer)" if tokenizer is not None else
                                                                  " (token ids, no tokenizer)")}
    name = getattr(config, "_name_or_path", "")
    if isinstance(name, str) and name and os.path.isdir(name):
        record["modelDir"] = os.path.abspath(name)
    return record

