"""Where `IdamoeCallback`'s probe comes from: the token ids given, or the first tokenized examples of the
Trainer's eval dataset (the first of a dict of them; the train dataset when there is none), padding
left out, found on the Trainer that calls the callback."""
from __future__ import annotations

import inspect
from collections.abc import Mapping as MappingABC
from itertools import islice
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np
import torch

from .layers import ContractError


def probe_windows(given: Optional[List[List[int]]], probe_tokens: int, trainer: Any, train_loader: Any,
                  text_config: Any) -> Tuple[List[List[int]], str]:
    """The probe's token-id sequences, `given` or the dataset's, up to `probe_tokens` tokens (one sequence per
    example, each cut at the model's `max_position_embeddings`), and where they came from (run.json
    `capture.tokens`)."""
    limit = getattr(text_config, "max_position_embeddings", None)
    longest = limit if isinstance(limit, int) and limit > 0 else None
    if given is not None:
        sequences, source = given, "given probe"
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
        sequences, source = token_id_sequences(dataset, name, probe_tokens), name
    windows: List[List[int]] = []
    total = 0
    for seq in sequences:
        take = list(seq)[:longest][: probe_tokens - total]
        if take:
            windows.append(take)
            total += len(take)
        if total >= probe_tokens:
            break
    if not windows:
        raise ContractError(f"IdamoeCallback: the {source} gives no probe tokens")
    return windows, f"first {total} tokens of the {source}"


def calling_trainer() -> Any:
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


def token_id_sequences(dataset: Any, name: str, limit: int) -> List[List[int]]:
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
    """A tensor's or a sequence's values as a flat list of ints."""
    if isinstance(values, torch.Tensor):
        return [int(v) for v in values.reshape(-1).tolist()]
    array = np.asarray(values)
    return [int(v) for v in array.reshape(-1).tolist()]
