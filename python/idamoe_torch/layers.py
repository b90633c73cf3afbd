"""Building blocks shared by the routers: closed option sets, activations, RMS norms, linear stacks.

Letters as in docs/format.md: N tokens, D hidden width, P latent width, E experts, M components per
expert, K = E*M.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

#: `idamoe.activation` values.
ACTIVATIONS: Tuple[str, ...] = ("gelu", "gelu_tanh", "relu", "silu", "tanh")
#: `idamoe.expert_score` values.
EXPERT_SCORES: Tuple[str, ...] = ("max", "sum")
#: `idamoe.input_norm` and `idamoe.latent_norm` values.
NORMS: Tuple[str, ...] = ("none", "rms")
#: `idamoe.prior_mass` values (IDA): the mixture's prior normalised over all K components, or within each
#: expert's M so that every expert holds 1/E of it. A checkpoint without the key means `global`.
PRIOR_MASSES: Tuple[str, ...] = ("global", "per-expert")
#: The epsilon of every RMS norm in the contract: h / sqrt(mean(h^2) + 1e-6).
RMS_EPS = 1e-6


class ContractError(ValueError):
    """A value outside the file contract (docs/format.md); the message is one line."""


def check_choice(what: str, value: str, choices: Sequence[str]) -> str:
    """`value` when it is one of `choices`, else a one-line ContractError naming `what`."""
    if value not in choices:
        raise ContractError(f"{what}: unknown value '{value}' ({', '.join(choices)})")
    return value


def activate(name: str, u: torch.Tensor) -> torch.Tensor:
    """The contract's activations: exact (erf) GELU, tanh GELU, ReLU, SiLU, tanh."""
    if name == "gelu":
        return F.gelu(u)
    if name == "gelu_tanh":
        return F.gelu(u, approximate="tanh")
    if name == "relu":
        return F.relu(u)
    if name == "silu":
        return F.silu(u)
    if name == "tanh":
        return torch.tanh(u)
    raise ContractError(f"activation: unknown value '{name}' ({', '.join(ACTIVATIONS)})")


def rms_normalize(x: torch.Tensor) -> torch.Tensor:
    """x / sqrt(mean(x^2) + 1e-6) over the last dimension."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + RMS_EPS)


class LinearStack(nn.ModuleList):
    """Linear layers through `widths` with an activation between consecutive layers (none after the
    last); a ModuleList of Linear only, so its state_dict names are `{j}.weight` / `{j}.bias` as the
    contract's `encoder.{j}` and `decoder.{j}` want."""

    def __init__(self, widths: Sequence[int], activation: str, bias: bool = True) -> None:
        if len(widths) < 2 or any(w < 1 for w in widths):
            raise ContractError(f"a linear stack needs at least two positive widths, got {list(widths)}")
        layers = [nn.Linear(a, b, bias=bias) for a, b in zip(widths[:-1], widths[1:])]
        for layer in layers:
            # As the Swift router initialises a Linear: uniform(-1/sqrt(in), 1/sqrt(in)), zero bias.
            bound = 1.0 / float(layer.in_features) ** 0.5
            nn.init.uniform_(layer.weight, -bound, bound)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        super().__init__(layers)
        self.activation = check_choice("activation", activation, ACTIVATIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """x [N, in] -> [N, out]."""
        last = len(self) - 1
        for j, layer in enumerate(self):
            x = layer(x)
            if j < last:
                x = activate(self.activation, x)
        return x
