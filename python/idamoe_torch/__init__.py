"""PyTorch producer of idamoe's file contract (docs/format.md, docs/python.md).

- `IDARouter`, `SoftmaxRouter`, `SigmoidBiasRouter`: torch.nn.Module routers with the math of the Swift tool; their
  state_dict names are the checkpoint contract's.
- `save_routers`, `write_probe`: checkpoints and probes that `idamoe route`, `diff` and `inspect` read.
- `RunWriter`: a live run directory (run.json, events.jsonl, snapshots) from any PyTorch loop, also
  under torch.distributed (only rank 0 writes); `HeldoutLoads`: the held-out CV of its eval events;
  `acquire_writer_lock`, `writer_is_live`: a run directory's one-writer lock (run_lock.py).
- `python -m idamoe_torch capture`: a Hugging Face MoE model's routers and their inputs (capture.py).
- `IdamoeCallback`: a Hugging Face Trainer callback writing a run of the model's own routing as it fine-tunes
  (trainer_callback.py; docs/importing.md, "Hugging Face Trainer").
- `python -m idamoe_torch import {megatron|sglang|vllm}`: routing other programs recorded, as a run (importing.py).
"""
from ._version import __version__
from .files import collect_routers, load_routers, read_probe, save_routers, write_probe
from .heldout import HeldoutLoads
from .ida_router import IDARouter
from .layers import ContractError
from .reactivation import ReactivationConfig, ReactivationEvent
from .routing import RouterOutput, StepStats, combine_experts
from .run_lock import acquire_writer_lock, writer_is_live
from .run_writer import RunWriter
from .softmax_router import SigmoidBiasRouter, SoftmaxRouter
from .trainer_callback import IdamoeCallback

__all__ = [
    "IDARouter", "SoftmaxRouter", "SigmoidBiasRouter", "RouterOutput", "combine_experts", "StepStats", "ReactivationConfig", "ReactivationEvent",
    "ContractError", "collect_routers", "load_routers", "read_probe", "save_routers", "write_probe", "RunWriter", "HeldoutLoads",
    "acquire_writer_lock", "writer_is_live", "IdamoeCallback", "__version__",
]
