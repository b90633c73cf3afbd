"""Running a model on token windows with hooks on every gate and its experts, and checking every candidate
rule against its own routing on every token (`check_routing`): what capture and the Trainer callback
both do. The model's own failures are named by module (`ForwardError`); a progress line goes to stderr
on long runs (`Progress`)."""
from __future__ import annotations

import inspect
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, TextIO

import torch
from torch import nn

from .capture_decide import TIE_RTOL, WEIGHT_TOL, BlockCheck, Tally, decide, tally
from .capture_gates import FoundGate
from .capture_rules import SCALE_NAMES, BlockRules, RuleKey, candidate_keys
from .capture_watch import Choices, GateWatch
from .layers import ContractError
from .softmax_router import LinearGateRouter


class ForwardError(ContractError):
    """The model's own forward raised: which module, and the underlying message."""


@dataclass
class Routing:
    """How a model routes, found by `check_routing` on token windows: the routers of the rule that
    reproduces it (or, `unverified`, the closest), what was checked, and what reached the gates."""

    #: {block: router} of one rule, holding a float32 copy of each gate as it was.
    routers: Dict[int, LinearGateRouter]
    #: run.json's `capture.notes`: the rule, the selection bias, what was checked (or why unverified).
    notes: List[str]
    checks: Dict[int, BlockCheck]
    #: True when no rule of the contract reproduces the model on every token (only with `unverified`).
    unverified: bool
    #: {block: router inputs [N, D] float32 on the CPU}, the windows' tokens in order.
    hidden: Dict[int, torch.Tensor]
    #: Where each block's own choices were read: `experts` (what the block hands its experts) or `gate`.
    sources: Dict[int, str]
    #: Blocks whose own choices could not be seen, and why.
    unseen: Dict[int, str]
    #: {block: (experts [N, k] best first, gate weights [N, k] or None)}: the model's own choices, when asked.
    choices: Dict[int, Choices]
    #: Seconds in the model's forward passes.
    forward_seconds: float


def check_routing(model: nn.Module, gates: Dict[int, FoundGate], windows: List[List[int]], config: Any, *, device: str,
                  dtype: torch.dtype = torch.float32, batch: int = 4, unverified: bool = False, keep_choices: bool = False,
                  progress: Optional[Progress] = None) -> Routing:
    """Runs `windows` of token ids through `model` (each window one sequence, `batch` of equal length a
    forward, gradients off, on `device`) with hooks on every gate (`find_gates`) and its block's experts,
    and compares every candidate rule of the contract with the model's own routing on every token
    (`dtype`'s tolerances). One-line ContractError as `capture` gives them (no rule reproduces the model,
    its routing cannot be seen, unless `unverified`); the model's own failure is a ForwardError naming
    the module. `keep_choices` keeps the model's own choices of every token."""
    hidden_size = next(iter(gates.values())).module.weight.shape[1]  # type: ignore[union-attr, index]
    n_tokens = sum(len(w) for w in windows)
    watches = {b: GateWatch(g, int(hidden_size)) for b, g in gates.items()}
    probe = {b: torch.empty(n_tokens, int(hidden_size), dtype=torch.float32) for b in gates}
    kept: Dict[int, List[Choices]] = {b: [] for b in gates}
    filled = {b: 0 for b in gates}
    keys = {b: candidate_keys(g, config) for b, g in gates.items()}
    rules: Dict[int, BlockRules] = {}
    tallies: Dict[int, Dict[RuleKey, Tally]] = {b: {} for b in gates}
    sources: Dict[int, str] = {}
    unseen: Dict[int, str] = {}
    top_ks: Dict[int, int] = {}
    tie_rtol, tol = TIE_RTOL.get(dtype, TIE_RTOL[torch.float32]), WEIGHT_TOL.get(dtype, WEIGHT_TOL[torch.float32])
    handles = []
    for b, g in gates.items():
        w = watches[b]
        handles.append(g.module.register_forward_pre_hook(w.pre, with_kwargs=True))
        handles.append((g.watched or g.module).register_forward_hook(w.post, with_kwargs=True))
        experts = getattr(g.block_module, "experts", None)
        if isinstance(experts, nn.Module) and not isinstance(experts, nn.ModuleList):
            handles.append(experts.register_forward_pre_hook(w.experts_pre, with_kwargs=True))
    names = {id(m): n for n, m in model.named_modules()}
    extra: Dict[str, Any] = {"use_cache": False}
    if "logits_to_keep" in inspect.signature(model.forward).parameters:
        extra["logits_to_keep"] = 1  # the LM head's output is not needed: one position, not [B, T, V]
    done, forward_seconds = 0, 0.0
    try:
        with torch.no_grad():
            for group in _batches(windows, batch):
                started = time.monotonic()
                try:
                    model(input_ids=torch.tensor(group, device=device), **extra)
                except Exception as e:  # the model's own code: say where, in one line
                    message = str(e).splitlines()[0] if str(e) else type(e).__name__
                    module = _failing_module(e, names)
                    raise ForwardError(f"the model's forward failed{' in ' + module if module else ''}: "
                                       f"{type(e).__name__}: {message}") from None
                forward_seconds += time.monotonic() - started
                done += sum(len(p) for p in group)
                for b, g in gates.items():
                    rows, choices, source, why = watches[b].take()
                    if filled[b] + rows.shape[0] > n_tokens:
                        raise ContractError(f"{g.name}: saw more rows than the {n_tokens} tokens (a gate called twice "
                                            "per forward cannot be captured)")
                    probe[b][filled[b]:filled[b] + rows.shape[0]] = rows
                    filled[b] += rows.shape[0]
                    if choices is None or b in unseen:
                        unseen.setdefault(b, why or "the model gave no choices")
                        continue
                    if keep_choices:
                        kept[b].append(choices)
                    sources[b] = source
                    k = top_ks.setdefault(b, int(choices[0].shape[1]))
                    if b not in rules:
                        rules[b] = BlockRules(g, keys[b], k)
                    logits = rules[b].logits(rows)
                    scales = [float(v) for v in (g.setting(SCALE_NAMES, config),) if isinstance(v, (int, float))]
                    for key, router in rules[b].routers.items():
                        tally(router, logits, choices, tallies[b].setdefault(key, Tally()), tie_rtol, tol, scales)
                _drop_failed(rules, tallies)
                if progress is not None:
                    progress.update(done)
    finally:
        if progress is not None:
            progress.close()
        for h in handles:
            h.remove()
    for b, g in gates.items():
        if filled[b] != n_tokens:
            raise ContractError(f"{g.name}: saw {filled[b]} token rows for {n_tokens} tokens (a gate that skips tokens "
                                "cannot be captured)")
    linears = {b: r.linear for b, r in rules.items()}
    rules.clear()  # the candidates go; the written routers keep each block's one copy of its gate
    written, notes, checks, is_unverified = decide(gates, keys, tallies, top_ks, sources, unseen, config, unverified,
                                                   n_tokens, linears, tol)
    choices_out: Dict[int, Choices] = {}
    for b, parts in kept.items():
        if parts and b not in unseen:
            weights = [p[1] for p in parts]
            choices_out[b] = (torch.cat([p[0] for p in parts]),
                              torch.cat([w for w in weights if w is not None]) if all(w is not None for w in weights) else None)
    return Routing(written, notes, checks, is_unverified, probe, sources, unseen, choices_out, forward_seconds)


def _drop_failed(rules: Dict[int, BlockRules], tallies: Dict[int, Dict[RuleKey, Tally]]) -> None:
    """After a batch: drops, from every block, the rules some block does not hold (they cannot be written)
    and those that differ from the model on a token of some block, as long as a rule that has matched
    every token so far remains. When none remains, those that failed last (at the same batch) go on to
    the end: the closest of them is what a refusal names and `unverified` writes."""
    if not rules:
        return
    common = set.intersection(*(set(r.routers) for r in rules.values()))
    failed = {key for key in common if any(tallies[b][key].failed for b in rules)}
    keep = common - failed or common
    for b, r in rules.items():
        r.keep(keep)
        for key in [key for key in tallies[b] if key not in keep]:
            del tallies[b][key]


def _batches(windows: List[List[int]], batch: int) -> Iterator[List[List[int]]]:
    """Windows of equal length `batch` at a time (no padding: a shorter last window goes alone)."""
    group: List[List[int]] = []
    for w in windows:
        if group and (len(group) == batch or len(w) != len(group[0])):
            yield group
            group = []
        group.append(w)
    if group:
        yield group


def _failing_module(error: BaseException, names: Dict[int, str]) -> str:
    """The innermost module of the model whose code was running when `error` was raised."""
    where = ""
    tb = error.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, nn.Module) and id(owner) in names:
            where = f"{names[id(owner)] or '<model>'} ({type(owner).__name__})"
        tb = tb.tb_next
    return where


class Progress:
    """One progress line on stderr for long captures: redrawn in place on a terminal, else one line every
    30 s once the capture has run for 10 s."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, after: float = 10.0, every: float = 30.0) -> None:
        self.total, self.stream, self.start = total, stream, time.monotonic()
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.next = self.start + (0.5 if self.tty else after)
        self.every = 0.5 if self.tty else every
        self.shown = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + self.every
        rate = done / max(now - self.start, 1e-9)
        left = (self.total - done) / rate if rate > 0 else float("inf")
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if math.isfinite(left) else "?"
        line = f"capture: {done:,} of {self.total:,} tokens ({100 * done / max(self.total, 1):.0f}%), {rate:,.0f} tokens/s, {eta} left"
        self.stream.write(("\r\x1b[K" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
