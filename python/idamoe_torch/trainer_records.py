"""What `IdamoeCallback`'s run.json says of the fine-tune: the `model` keys the Hugging Face config gives,
the `training` keys the Trainer's arguments give, and the `capture` record (architecture, gates, notes)."""
from __future__ import annotations

import math
import os
from typing import Any, Dict, Optional

import torch
from torch import nn

from .capture import FoundGate, Routing


def as_number(value: Any) -> Optional[float]:
    """A number (or a one-element tensor) as a float; None for anything else."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def language_config(config: Any) -> Any:
    """The language model's config (a multimodal config's text part)."""
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def positive_int(value: Any) -> Optional[int]:
    """`value` when it is an int above 0, else None."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def model_settings(config: Any) -> Dict[str, Any]:
    """run.json `model` keys the Hugging Face config gives (ModelConfig's names; the routers give the rest)."""
    text = language_config(config)
    out: Dict[str, Any] = {}
    for key, names in (("blocks", ("num_hidden_layers",)), ("width", ("hidden_size",)), ("vocab", ("vocab_size",)),
                       ("heads", ("num_attention_heads",))):
        for name in names:
            value = positive_int(getattr(text, name, None))
            if value is not None:
                out[key] = value
                break
    return out


def training_settings(args: Any, state: Any, config: Any) -> Dict[str, Any]:
    """run.json `training` keys (TrainingOptions' names) the Trainer's arguments give."""
    world = positive_int(getattr(args, "world_size", 1)) or 1
    batch = (positive_int(getattr(args, "per_device_train_batch_size", None)) or 0) * \
        (positive_int(getattr(args, "gradient_accumulation_steps", 1)) or 1) * world
    out: Dict[str, Any] = {}
    if batch:
        out["batch"] = batch
    steps = positive_int(getattr(state, "max_steps", None))
    if steps:
        out["steps"] = steps
        if hasattr(args, "get_warmup_steps"):
            out["warmup"] = int(args.get_warmup_steps(steps))
    for key, name in (("learningRate", "learning_rate"), ("weightDecay", "weight_decay"),
                      ("gradientClip", "max_grad_norm")):
        value = as_number(getattr(args, name, None))
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
            value = positive_int(int(value)) if isinstance(value, (int, float)) and value >= 1 else None
            if value:
                out[key] = value
    # The Switch auxiliary loss the model adds to the task loss (only when it returns router logits).
    text = language_config(config)
    aux = as_number(getattr(text, "router_aux_loss_coef", None))
    if aux is not None:
        out["auxLoss"] = aux if getattr(text, "output_router_logits", False) else 0.0
    z = as_number(getattr(text, "router_z_loss_coef", None))
    if z is not None:
        out["zLoss"] = z if getattr(text, "output_router_logits", False) else 0.0
    return out


def capture_record(model: nn.Module, config: Any, gates: Dict[int, FoundGate], routing: Routing, source: str,
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
