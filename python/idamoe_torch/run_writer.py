"""A live run directory (docs/format.md, "Run directories") written from any PyTorch training loop.

Only rank 0 touches files; under torch.distributed every rank calls the same methods in the same
order (they hold collectives), and the counts in each `step` event are sums over ranks.
"""
from __future__ import annotations

import json
import math
import os
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from . import distributed
from .files import Router, checkpoint_metadata, collect_routers, publish, router_tensors, write_probe
from .heldout import HeldoutLoads, coefficient_of_variation, load_quantiles, max_violation
from .ida_router import IDARouter
from .layers import ContractError
from .reactivation import ReactivationEvent
from .routing import RouterOutput, StepStats
from .run_lock import claim_new_run_directory
from .softmax_router import SigmoidBiasRouter
from ._version import __version__
from safetensors.torch import save as safetensors_bytes

#: run.json `lossUnit` values (docs/schema/run.schema.json): what the step events' loss is per.
LOSS_UNITS = ("nats/byte", "nats/token")


def round6(x: float) -> float:
    """x to 6 significant decimals, non-finite values unchanged: the one rounding rule of the event log
    (docs/schema/events.schema.json; the Swift side's is `EventCoding.rounded`)."""
    if not math.isfinite(x) or x == 0:
        return x
    return float(f"{x:.6g}")


def step_name(step: int) -> str:
    """"step-00000200", the stem of every file of a snapshot."""
    if not 0 <= step <= 99_999_999:
        raise ContractError(f"step {step} does not fit the 8-digit snapshot names")
    return f"step-{step:08d}"


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (written null), as the contract writes them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class RunWriter:
    """Writes run.json, events.jsonl, the probe and snapshots of a PyTorch run that `idamoe inspect`
    follows live.

    `model` is the module holding the routers (found by `collect_routers`: the block index is the last
    integer of each router's module path) or a {block: router} mapping. The probe: `probe_tokens` [N]
    (or [B, T], flattened row-major) with optional `probe_domains`, `probe_documents` [N], and
    `probe_forward`, called with probe_tokens under torch.no_grad() at each snapshot; forward hooks on
    the routers capture their inputs, which must come to N rows per router in token order. It runs on
    rank 0 only, so it must not run collectives (call the unwrapped model, not DistributedDataParallel).

    `loss_unit` (run.json `lossUnit`) says what the loss given to `step` is per: `nats/token` unless
    `vocab` is `bytes`, then `nats/byte`, when not given.

    `run_dir` must not exist yet or be an empty directory (not a symbolic link); rank 0 holds the run's
    writer lock (run_lock.py) until `finish` or `close` (also `with RunWriter(...) as writer:`) or
    until the process ends.
    """

    def __init__(self, run_dir: Union[str, "os.PathLike[str]"], model: Union[nn.Module, Mapping[int, Router]], *,
                 probe_tokens: torch.Tensor, probe_forward: Callable[[torch.Tensor], Any],
                 probe_domains: Optional[torch.Tensor] = None, probe_documents: Optional[torch.Tensor] = None,
                 domain_names: Sequence[str] = (), vocab: Union[str, Sequence[str]] = "bytes",
                 model_config: Optional[Mapping[str, Any]] = None, training_config: Optional[Mapping[str, Any]] = None,
                 parameters: Optional[int] = None, corpus_bytes: int = 0,
                 capture: Optional[Mapping[str, Any]] = None, loss_unit: Optional[str] = None) -> None:
        self.run_dir = os.fspath(run_dir)
        #: run.json `lossUnit`: what `step`'s loss is per, `nats/byte` or `nats/token` (default: per byte when
        #: the vocabulary is `bytes`, else per token); the inspector labels the loss by it.
        self.loss_unit = loss_unit if loss_unit is not None else ("nats/byte" if vocab == "bytes" else "nats/token")
        if self.loss_unit not in LOSS_UNITS:
            raise ContractError(f"RunWriter: loss_unit {self.loss_unit!r} is not one of {', '.join(LOSS_UNITS)}")
        #: run.json `capture` (docs/schema/run.schema.json): where a captured model came from and how it was checked.
        self.capture = dict(capture) if capture is not None else None
        self.model = model if isinstance(model, nn.Module) else None
        self.routers: Dict[int, Router] = collect_routers(model) if isinstance(model, nn.Module) else dict(sorted(model.items()))
        checkpoint_metadata(self.routers)  # one setting for all routers, checked before anything is written
        self.kind = next(iter(self.routers.values())).kind
        self.probe_tokens = probe_tokens.reshape(-1).detach().cpu()
        self.probe_forward = probe_forward
        self.probe_domains = probe_domains
        self.probe_documents = probe_documents
        self.domain_names = list(domain_names)
        self.vocab = vocab
        self.writes = distributed.is_writer()
        self._last_time: Optional[float] = None
        #: 32 lowercase hex characters naming this run (run.json `runId`; None on ranks that do not write):
        #: a follower that finds another id knows the directory now holds a different run.
        self.run_id: Optional[str] = uuid.uuid4().hex if self.writes else None
        self._lock_fd: Optional[int] = None
        self._events_fd: Optional[int] = None
        if parameters is None:
            parameters = sum(p.numel() for p in (self.model or nn.ModuleList(self.routers.values())).parameters())
        if self.writes:
            self._open(model_config or {}, training_config or {}, parameters, corpus_bytes)

    # ------------------------------------------------------------------------------------------
    # files (rank 0 only)

    def _open(self, model_config: Mapping[str, Any], training_config: Mapping[str, Any], parameters: int,
              corpus_bytes: int) -> None:
        # A new or empty directory only, locked for the writer's whole life (run_lock.py); nothing is
        # written into a directory that is refused.
        self._lock_fd = claim_new_run_directory(self.run_dir)
        try:
            self._create(model_config, training_config, parameters, corpus_bytes)
        except BaseException:
            self.close()
            raise

    def _create(self, model_config: Mapping[str, Any], training_config: Mapping[str, Any], parameters: int,
                corpus_bytes: int) -> None:
        """run.json, probe.safetensors, snapshots/ and the `start` event, in the claimed directory."""
        try:
            os.mkdir(os.path.join(self.run_dir, "snapshots"))
            self._events_fd = os.open(os.path.join(self.run_dir, "events.jsonl"),
                                      os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise ContractError(f"{self.run_dir}: cannot be filled ({e.strerror})") from None
        manifest = os.path.join(self.run_dir, "run.json")
        body = {
            "format": 1,
            "producer": f"idamoe_torch {__version__}",
            "model": {**self._model_settings(), **dict(model_config)},
            "training": {**self._training_settings(), **dict(training_config)},
            "domains": self.domain_names,
            "corpusBytes": int(corpus_bytes),
            "parameters": int(parameters),
            "probeTokens": int(self.probe_tokens.numel()),
            "created": time.time(),
            "runId": self.run_id,
            "lossUnit": self.loss_unit,
        }
        if self.capture is not None:
            body["capture"] = self.capture
        publish((json.dumps(body, indent=2, sort_keys=True) + "\n").encode(), manifest)
        write_probe(os.path.join(self.run_dir, "probe.safetensors"), self.probe_tokens, None, self.probe_domains,
                    self.probe_documents, self.domain_names, self.vocab)
        self._event(0, "start", parameters=int(parameters), router=self.kind, domains=self.domain_names)

    def _model_settings(self) -> Dict[str, Any]:
        """run.json `model` keys (ModelConfig's names) the routers determine."""
        r = next(iter(self.routers.values()))
        out: Dict[str, Any] = {"router": r.kind, "experts": r.experts, "topK": r.top_k}
        if isinstance(r, IDARouter):
            out.update(componentsPerExpert=r.components_per_expert, latentDim=r.latent_dim,
                       routerHidden=[layer.out_features for layer in r.encoder][:-1], routerActivation=r.activation,
                       expertScore=r.expert_score, inputNorm=r.input_norm, latentNorm=r.latent_norm,
                       logVarMin=r.gmm.log_var_min, logVarMax=r.gmm.log_var_max, gateTemperature=r.gate_temperature,
                       priorMass=r.prior_mass)
        else:
            out.update(gateBias=r.gate.bias is not None)
        return out

    def _training_settings(self) -> Dict[str, Any]:
        """run.json `training` keys (TrainingOptions' names) the routers determine."""
        r = next(iter(self.routers.values()))
        if isinstance(r, IDARouter):
            c = r.reactivation.config
            return dict(reactivation=c.mode, reactEvery=c.every, reactSteps=c.steps, reactTau=c.tau, reseed=c.reseed,
                        reconstructionWeight=r.reconstruction_weight, reactivationWeight=r.reactivation_weight,
                        nllToEncoder=r.nll_to_encoder)
        if isinstance(r, SigmoidBiasRouter):
            return dict(biasRate=r.bias_rate, auxLoss=0.0, zLoss=0.0)
        return dict(auxLoss=r.aux_loss, zLoss=r.z_loss)

    def _event(self, step: int, kind: str, **fields: Any) -> None:
        """Appends one event line with a single write (rank 0; nothing elsewhere)."""
        if not self.writes or self._events_fd is None:
            return
        obj = json_safe({**fields, "v": 1, "step": int(step), "time": round(time.time(), 3), "kind": kind})
        data = (json.dumps(obj, allow_nan=False, separators=(",", ":")) + "\n").encode()
        done = 0
        while done < len(data):  # EINTR is retried by os.write itself (PEP 475)
            try:
                n = os.write(self._events_fd, data[done:])
            except OSError as e:  # ENOSPC, EFBIG past `ulimit -f`, EIO
                raise ContractError(f"{self.run_dir}: cannot append to events.jsonl ({e.strerror})") from None
            if n <= 0:
                raise ContractError(f"{self.run_dir}: cannot append to events.jsonl (nothing written)")
            done += n

    # ------------------------------------------------------------------------------------------
    # the loop's calls (every rank)

    def step(self, step: int, loss: float, *, lr: Optional[float] = None, router_lr: Optional[float] = None,
             grad_norm: Optional[float] = None, router_grad_norm: Optional[float] = None) -> List[ReactivationEvent]:
        """After the optimizer step: sums the routers' statistics of the training forwards since the last
        step (micro-batches of gradient accumulation included) over ranks,
        runs IDA reactivation (same decisions on every rank), and logs the `step` event (loss: this
        rank's mean, averaged over ranks weighted by tokens) and any `reactivation` events. Returns the
        events (all of them, on every rank)."""
        if not math.isfinite(float(loss)):
            raise ContractError(f"RunWriter.step({step}): the training loss is {float(loss)}; nothing was logged")
        missing = [i for i, r in self.routers.items() if r.step_stats is None]
        if missing:
            raise ContractError(f"RunWriter.step({step}): the routers of blocks {missing} ran no training forward "
                                "(train mode, gradients on) since the last step")
        local = [(i, r, r.step_stats) for i, r in self.routers.items() if r.step_stats is not None]
        pieces: List[torch.Tensor] = []
        for _, r, s in local:
            pieces.append(_pack(r, s))
        n0 = float(local[0][2].tokens)
        pieces.append(torch.tensor([float(loss) * n0, n0], dtype=torch.float64))
        summed = distributed.sum_over_ranks(torch.cat(pieces))
        now = time.time()
        elapsed = None if self._last_time is None else now - self._last_time
        self._last_time = now
        offset = 0
        layers: List[Dict[str, Any]] = []
        all_events: List[ReactivationEvent] = []
        for i, r, s in local:
            g, offset = _unpack(r, s, summed, offset)
            if isinstance(r, IDARouter):
                events = r.observe(step, g)  # takes r.step_stats (its latents are this rank's draw pool)
                all_events.extend(events)
                for e in events:
                    self._event(step, "reactivation", event=e.event, layer=i, component=e.component, expert=e.expert,
                                prior=round6(e.prior), usage=round6(e.usage))
            elif isinstance(r, SigmoidBiasRouter):
                r.observe(step, g)  # moves the selection bias by the global counts (the same on every rank)
            else:
                r.step_stats = None  # taken
            layers.append(_layer_fields(i, r, g))
        total_loss, total_tokens = float(summed[offset]), float(summed[offset + 1])
        fields: Dict[str, Any] = {"loss": round6(total_loss / max(total_tokens, 1.0)),
                                  "cv_mean": round6(sum(l["cv"] for l in layers) / len(layers)), "layers": layers}
        for key, value in (("lr", lr), ("router_lr", router_lr), ("grad_norm", grad_norm),
                           ("router_grad_norm", router_grad_norm)):
            if value is not None:
                fields[key] = round6(float(value))
        if elapsed is not None and elapsed > 0:
            fields["tokens_per_s"] = round(total_tokens / elapsed)
        self._event(step, "step", **fields)
        return all_events

    def eval(self, step: int, val_bpb: float, domains: Optional[Mapping[str, float]] = None,
             heldout: Optional[HeldoutLoads] = None) -> None:
        """An `eval` event: validation bits per byte overall and per domain name, and with `heldout` (from
        `heldout()`) the held-out CV of the validation tokens' top-1, top-k and gate-weighted loads per
        layer and their means over layers. No collective: call it on rank 0 alone if you like (after
        `heldout.sum_over_ranks()` on every rank when validation is sharded); rank 0 writes."""
        if not math.isfinite(val_bpb):
            raise ContractError(f"RunWriter.eval: val_bpb {val_bpb} is not finite")
        extra = heldout.fields(round6) if heldout is not None else {}
        self._event(step, "eval", val_bpb=round6(val_bpb), domains={k: round6(float(v)) for k, v in (domains or {}).items()},
                    **extra)

    @contextmanager
    def heldout(self) -> Iterator[HeldoutLoads]:
        """Counts the routing decisions of every router forward inside the block (the model in eval mode,
        gradients off, restored afterwards) for `eval(..., heldout=...)`:

            with writer.heldout() as loads:
                val_loss = evaluate(model, validation_batches)
            writer.eval(step, val_bpb, heldout=loads)
        """
        loads = HeldoutLoads({i: r.experts for i, r in self.routers.items()})
        handles = []
        for i, r in self.routers.items():
            def hook(_module: nn.Module, _args: tuple, output: RouterOutput, block: int = i) -> None:
                loads.add_output(block, output)
            handles.append(r.register_forward_hook(hook))
        try:
            with self._inference():
                yield loads
        finally:
            for h in handles:
                h.remove()

    def snapshot(self, step: int, hidden: Optional[Mapping[int, torch.Tensor]] = None) -> None:
        """Rank 0: runs the probe through the model with hooks on the routers, then publishes the probe's
        router inputs and the routers (model file last, each atomically) and logs `snapshot`. Other
        ranks return at once. `hidden` ({block: [N, D]}, every router's block) gives the router inputs
        instead of running the probe (a capture holds them already; no second copy is made)."""
        if not self.writes:
            return
        n = int(self.probe_tokens.numel())
        if hidden is not None:
            given = {i: hidden[i] for i in self.routers if i in hidden}
            if sorted(given) != sorted(self.routers):
                raise ContractError(f"RunWriter.snapshot: router inputs for blocks {sorted(hidden)}, routers of blocks "
                                    f"{sorted(self.routers)}")
            hidden = given
        else:
            with self._capture() as captured:
                self.probe_forward(self.probe_tokens)
            hidden = {i: torch.cat(parts) if parts else torch.zeros(0) for i, parts in captured.items()}
        for i, rows in hidden.items():
            if rows.dim() != 2 or rows.shape[0] != n:
                raise ContractError(f"RunWriter.snapshot: the router of block {i} saw {rows.shape[0]} probe rows, "
                                    f"expected {n} (probe_forward must run every probe token once, in order)")
        name = step_name(step)
        snapshots = os.path.join(self.run_dir, "snapshots")
        write_probe(os.path.join(snapshots, f"{name}.probe.safetensors"), self.probe_tokens, hidden, self.probe_domains,
                    self.probe_documents, self.domain_names, self.vocab, step=step)
        meta = checkpoint_metadata(self.routers, step)
        meta["idamoe.producer"] = f"idamoe_torch {__version__}"
        publish(safetensors_bytes(router_tensors(self.routers), metadata=meta), os.path.join(snapshots, f"{name}.safetensors"))
        self._event(step, "snapshot", path=f"snapshots/{name}.safetensors", probe=f"snapshots/{name}.probe.safetensors")

    def finish(self, step: int) -> None:
        """Logs `done` and releases the run (rank 0)."""
        self._event(step, "done")
        self.close()

    def close(self) -> None:
        """Closes the event log and releases the run's lock without logging `done` (an interrupted run);
        closing again does nothing. The kernel releases the lock anyway when the process ends."""
        events, lock = self._events_fd, self._lock_fd
        self._events_fd = self._lock_fd = None
        for fd in (events, lock):
            if fd is not None:
                os.close(fd)

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, *_exc: Any) -> None:
        """Closes (without `done`: call `finish` inside the block for a finished run)."""
        self.close()

    @contextmanager
    def _capture(self) -> Iterator[Dict[int, List[torch.Tensor]]]:
        """Forward pre-hooks on every router, recording its input rows [n, D] as float32 on the CPU,
        with gradients off and the model in eval mode (restored afterwards)."""
        captured: Dict[int, List[torch.Tensor]] = {i: [] for i in self.routers}
        handles = []
        for i, r in self.routers.items():
            def hook(_module: nn.Module, args: tuple, kwargs: dict, block: int = i, width: int = r.hidden_dim) -> None:
                h = args[0] if args else kwargs["h"]
                captured[block].append(h.detach().reshape(-1, width).to("cpu", torch.float32))
            handles.append(r.register_forward_pre_hook(hook, with_kwargs=True))
        try:
            with self._inference():
                yield captured
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def _inference(self) -> Iterator[None]:
        """The model (or the routers) in eval mode with gradients off; each module's mode restored after."""
        owner = self.model or nn.ModuleList(self.routers.values())
        modes = [(m, m.training) for m in owner.modules()]
        owner.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            for m, mode in modes:
                m.training = mode


def _pack(router: Router, s: StepStats) -> torch.Tensor:
    """One router's statistics as a flat float64 vector, in the order `_unpack` reads them."""
    parts = [torch.tensor([float(s.tokens), s.entropy_sum]), s.expert_counts.double()]
    if isinstance(router, IDARouter):
        parts.append(torch.tensor([s.nll_sum or 0.0, s.rec_sum or 0.0, float(s.rec_count or 0)]))
        if s.component_counts is None:
            raise ContractError("RunWriter.step: IDA statistics without component counts")
        parts.append(s.component_counts.double())
    else:
        parts.append(torch.tensor([(s.aux or 0.0) * s.tokens, (s.z or 0.0) * s.tokens]))
    return torch.cat([p.double() for p in parts])


def _unpack(router: Router, local: StepStats, summed: torch.Tensor, offset: int) -> "tuple[StepStats, int]":
    """The global StepStats of one router from the summed vector; L_react (the same on every rank) and
    the local latents stay as they were."""
    e = router.experts
    tokens, entropy = int(summed[offset]), float(summed[offset + 1])
    counts = summed[offset + 2: offset + 2 + e].clone()
    offset += 2 + e
    g = StepStats(tokens=tokens, expert_counts=counts, entropy_sum=entropy, extras=local.extras, react=local.react)
    if isinstance(router, IDARouter):
        g.nll_sum, g.rec_sum, g.rec_count = float(summed[offset]), float(summed[offset + 1]), int(summed[offset + 2])
        k = router.components
        g.component_counts = summed[offset + 3: offset + 3 + k].clone()
        offset += 3 + k
    else:
        g.aux = float(summed[offset]) / max(tokens, 1)
        g.z = float(summed[offset + 1]) / max(tokens, 1)
        offset += 2
    return g, offset


def _layer_fields(block: int, router: Router, g: StepStats) -> Dict[str, Any]:
    """The per-layer object of a `step` event (docs/format.md)."""
    total = float(g.expert_counts.sum())
    load = [float(c) / total if total > 0 else 0.0 for c in g.expert_counts]
    out: Dict[str, Any] = {"layer": block, "load": [round6(v) for v in load], "cv": round6(coefficient_of_variation(load)),
                           "max_vio": round6(max_violation(load)), "load_quantiles": load_quantiles(load, round6),
                           "entropy": round6(g.entropy_sum / max(g.tokens, 1))}
    if isinstance(router, IDARouter):
        out.update(nll=round6((g.nll_sum or 0.0) / max(g.tokens, 1)), rec=round6((g.rec_sum or 0.0) / max(g.rec_count or 0, 1)),
                   react=round6(g.react or 0.0), dead=router.reactivation.dead_count)
    elif not isinstance(router, SigmoidBiasRouter):  # sigmoid-bias routers have no auxiliary or z loss
        out.update(aux=round6(g.aux or 0.0), z=round6(g.z or 0.0))
    return out
