"""The baseline softmax router (Sources/IdaNumerics/SoftmaxRouter*.swift): gate logits, softmax, top-k,
renormalised gates trained by the task loss, with the Switch auxiliary loss and the z-loss."""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import nn

from .layers import ContractError
from .routing import RouterOutput, StepStats, accumulate, entropy_bits, flatten_tokens, top_k


class SoftmaxRouter(nn.Module):
    """logits = W h (+ b) [N, E]; probabilities softmax(logits) in float64; top-k by probability (ties to
    the lower index); gates = the selected probabilities renormalised (differentiable).

    In training its loss is alpha * aux + beta * z with aux = E sum_e f_e P_e (f_e: share of the N*k
    assignments, constant; P_e: mean probability) and z = mean_n logsumexp(logits_n)^2.
    state_dict names: `gate.weight` [E, D], `gate.bias` [E].
    """

    kind = "softmax"

    def __init__(self, hidden_dim: int, experts: int = 8, top_k: int = 2, bias: bool = False,
                 aux_loss: float = 0.0, z_loss: float = 0.0) -> None:
        super().__init__()
        if not 1 <= experts <= 1024:
            raise ContractError(f"experts must be 1...1024, got {experts}")
        if not 1 <= top_k <= experts:
            raise ContractError(f"top-k must be 1...{experts}, got {top_k}")
        self.hidden_dim = hidden_dim
        self.experts = experts
        self.top_k = top_k
        self.aux_loss = float(aux_loss)
        self.z_loss = float(z_loss)
        self.gate = nn.Linear(hidden_dim, experts, bias=bias)
        bound = 1.0 / float(hidden_dim) ** 0.5
        nn.init.uniform_(self.gate.weight, -bound, bound)
        if self.gate.bias is not None:
            nn.init.zeros_(self.gate.bias)
        #: Statistics of the training forwards since RunWriter.step last took them (summed over
        #: micro-batches), None when there was none.
        self.step_stats: Optional[StepStats] = None

    def metadata(self) -> Dict[str, str]:
        """The checkpoint `__metadata__` entries of this router."""
        return {"idamoe.router": "softmax", "idamoe.experts": str(self.experts), "idamoe.top_k": str(self.top_k)}

    def route(self, h: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Routing without training: experts, weights, probabilities [N, E], entropy_bits [N]."""
        with torch.no_grad():
            x = flatten_tokens(h, self.hidden_dim, "SoftmaxRouter").to(self.gate.weight.dtype)
            probs = torch.softmax(self.gate(x).double(), dim=1)
            experts, weights = top_k(probs, self.top_k)
            return dict(experts=experts, weights=weights, probabilities=probs, entropy_bits=entropy_bits(probs))

    def forward(self, h: torch.Tensor) -> RouterOutput:  # type: ignore[override]
        """Routes h [..., D]; the gates carry the task loss's gradient to the gate layer and to h.
        Autocast is off inside: the gate computes in its own (float32) precision."""
        with torch.autocast(h.device.type, enabled=False):
            return self._forward(h)

    def _forward(self, h: torch.Tensor) -> RouterOutput:
        x = flatten_tokens(h, self.hidden_dim, "SoftmaxRouter")
        logits = self.gate(x.to(self.gate.weight.dtype)).double()
        probs = torch.softmax(logits, dim=1)
        experts, weights = top_k(probs, self.top_k)
        if not (self.training and torch.is_grad_enabled()):
            return RouterOutput(experts, weights.to(h.dtype), h.new_zeros(()))
        n = x.shape[0]
        counts = torch.bincount(experts.reshape(-1), minlength=self.experts).double()
        f = counts / max(n * self.top_k, 1)
        aux = self.experts * (f * probs.mean(dim=0)).sum() if n else probs.new_zeros(())
        lse = torch.logsumexp(logits, dim=1)
        z = lse.pow(2).mean() if n else probs.new_zeros(())
        loss = self.aux_loss * aux + self.z_loss * z
        self.step_stats = accumulate(self.step_stats, StepStats(
            tokens=n, expert_counts=counts.cpu(), entropy_sum=float(entropy_bits(probs.detach()).sum()),
            aux=float(aux.detach()), z=float(z.detach())))
        return RouterOutput(experts, weights.to(h.dtype), loss.float())
