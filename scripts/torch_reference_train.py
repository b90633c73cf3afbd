#!/usr/bin/env python3
"""PyTorch eager reference for `idamoe bench train`: the same default model, the same training step.

The model mirrors Sources/IdaTraining/Model (ModelConfig defaults): byte vocabulary V 256, D 128,
4 heads, 4 pre-norm blocks all MoE, T 128, batch 16, E 8 GELU experts (exact erf GELU, F 256, with
biases), top-2, RMSNorm (eps 1e-5, learned gain), tied output head. The IDA router of every MoE block
(Sources/IdaNumerics/IDARouter*.swift) reads a detached copy of the FFN input, RMS-normalises it
(eps 1e-6, no gain), encodes D -> 128 -> P 32 with GELU, RMS-normalises the latent, evaluates a
diagonal GMM with K = E * M = 128 components in float64 (as idamoe does), routes each token to the
top-2 experts by the max of their components' posteriors (gates = selected scores renormalised,
no gradient) and is trained by NLL on the detached latent plus the reconstruction MSE of the
mirrored decoder P -> 128 -> D. The softmax variant gates with softmax(W h) over E, top-2,
renormalised, trained by the task loss. Step: zero grads, forward, cross-entropy, backward,
backbone and router gradients clipped separately to norm 1, AdamW (betas 0.9/0.95, eps 1e-8,
weight decay 0.1 on backbone matrices except embeddings; router lr 1e-2, backbone 1e-3).
Reactivation bookkeeping (a usage EMA per step in idamoe) is left out: it is O(N) per layer.

Prints tokens/s of the timed steps. Usage:
    python scripts/torch_reference_train.py --router ida --threads 2 --steps 20
"""
from __future__ import annotations

import argparse
import math
import os
import time
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rms(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (y.view(shape).transpose(1, 2) for y in (q, k, v))
        # Eager attention written out (scores, mask, softmax, weighted sum), as idamoe computes it.
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        p = scores.masked_fill(mask, float("-inf")).softmax(-1)
        y = (p @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class Expert(nn.Module):
    def __init__(self, d: int, f: int) -> None:
        super().__init__()
        self.up = nn.Linear(d, f)
        self.down = nn.Linear(f, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class MLP(nn.Module):
    def __init__(self, widths: List[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.gelu(x)
        return x


class IDARouter(nn.Module):
    def __init__(self, d: int, hidden: int, p: int, e: int, m: int, top_k: int) -> None:
        super().__init__()
        self.encoder = MLP([d, hidden, p])
        self.decoder = MLP([p, hidden, d])
        k = e * m
        self.logits = nn.Parameter(torch.zeros(k))
        self.means = nn.Parameter(torch.randn(k, p))
        self.log_vars = nn.Parameter(torch.zeros(k, p))
        self.e, self.m, self.top_k = e, m, top_k

    def forward(self, h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(selected [N, k], gate weights [N, k], router loss) for h [N, D]."""
        x = rms(h.detach())
        z = rms(self.encoder(x))
        xhat = self.decoder(z)
        rec = (xhat - x).pow(2).mean()
        # Diagonal GMM in float64 on the detached latent (L_nll does not reach the encoder).
        zd = z.detach().double()
        s = self.log_vars.double().clamp(-6, 6)
        prec = torch.exp(-s)
        mu = self.means.double()
        log_pi = torch.log_softmax(self.logits.double(), 0)
        offset = log_pi - 0.5 * ((mu * mu * prec).sum(1) + s.sum(1) + zd.shape[1] * math.log(2 * math.pi))
        log_joint = -0.5 * (zd * zd) @ prec.T + zd @ (mu * prec).T + offset
        log_density = torch.logsumexp(log_joint, 1)
        nll = -log_density.mean()
        posterior = torch.exp(log_joint - log_density[:, None]).detach()
        scores = posterior.view(-1, self.e, self.m).amax(2)
        top, selected = scores.topk(self.top_k, dim=1)
        weights = (top / top.sum(1, keepdim=True)).float()
        return selected, weights, nll.float() + rec


class SoftmaxRouter(nn.Module):
    def __init__(self, d: int, e: int, top_k: int) -> None:
        super().__init__()
        self.gate = nn.Linear(d, e, bias=False)
        self.top_k = top_k

    def forward(self, h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        probs = self.gate(h).softmax(-1)
        top, selected = probs.topk(self.top_k, dim=1)
        return selected, top / top.sum(1, keepdim=True), None


class MoE(nn.Module):
    def __init__(self, d: int, f: int, e: int) -> None:
        super().__init__()
        self.experts = nn.ModuleList(Expert(d, f) for _ in range(e))

    def forward(self, x: torch.Tensor, selected: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        y = torch.zeros_like(x)
        flat_sel = selected.reshape(-1)
        flat_w = weights.reshape(-1)
        token = torch.arange(x.shape[0], device=x.device).repeat_interleave(selected.shape[1])
        order = torch.argsort(flat_sel, stable=True)
        counts = torch.bincount(flat_sel, minlength=len(self.experts)).tolist()
        start = 0
        for i, n in enumerate(counts):
            if n == 0:
                continue
            idx = order[start:start + n]
            start += n
            rows = token[idx]
            out = self.experts[i](x[rows]) * flat_w[idx, None]
            y = y.index_add(0, rows, out)
        return y


class Block(nn.Module):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        d = args.width
        self.attn_norm = RMSNorm(d)
        self.attn = Attention(d, args.heads)
        self.ffn_norm = RMSNorm(d)
        self.moe = MoE(d, args.hidden, args.experts)
        if args.router == "ida":
            self.router: nn.Module = IDARouter(d, 128, args.latent, args.experts, args.components, args.top_k)
        else:
            self.router = SoftmaxRouter(d, args.experts, args.top_k)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        b, t, d = x.shape
        x = x + self.attn(self.attn_norm(x))
        f = self.ffn_norm(x).reshape(b * t, d)
        selected, weights, router_loss = self.router(f)
        x = x + self.moe(f, selected, weights).view(b, t, d)
        return x, router_loss


class Model(nn.Module):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.tok_emb = nn.Embedding(256, args.width)
        self.pos_emb = nn.Embedding(args.context, args.width)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(args) for _ in range(args.blocks))
        self.norm = RMSNorm(args.width)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        b, t = tokens.shape
        x = self.tok_emb(tokens) + self.pos_emb(torch.arange(t, device=tokens.device))
        router_losses = []
        for block in self.blocks:
            x, r = block(x)
            if r is not None:
                router_losses.append(r)
        logits = self.norm(x) @ self.tok_emb.weight.T
        loss = F.cross_entropy(logits.view(b * t, -1), targets.reshape(-1))
        return loss + sum(router_losses) if router_losses else loss


def corpus_bytes() -> torch.Tensor:
    """Debian's fortunes when installed (as `bench train` uses), else random bytes."""
    folder = "/usr/share/games/fortunes"
    data = bytearray()
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path) and "." not in name:
                with open(path, "rb") as f:
                    data += f.read()
    if len(data) < 1 << 16:
        data = bytearray(os.urandom(1 << 20))
    return torch.frombuffer(data, dtype=torch.uint8).long()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--router", choices=["ida", "softmax"], default="ida")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--context", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--components", type=int, default=16)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile the model (inductor on the CPU); the warm-up steps include compiling")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if os.environ.get("FLUSH_DENORMAL") == "1":
        torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    model = Model(args)
    router = [p for n, p in model.named_parameters() if ".router." in n and args.router == "ida"]
    backbone = [(n, p) for n, p in model.named_parameters() if not (".router." in n and args.router == "ida")]
    decay = [p for n, p in backbone if p.dim() == 2 and not n.startswith(("tok_emb", "pos_emb"))]
    no_decay = [p for n, p in backbone if not (p.dim() == 2 and not n.startswith(("tok_emb", "pos_emb")))]
    groups = [{"params": decay, "weight_decay": 0.1, "lr": 1e-3},
              {"params": no_decay, "weight_decay": 0.0, "lr": 1e-3}]
    if router:
        groups.append({"params": router, "weight_decay": 0.0, "lr": 1e-2})
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.95), eps=1e-8, foreach=True)

    data = corpus_bytes()
    gen = torch.Generator().manual_seed(args.seed)

    def batch() -> Tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(0, len(data) - args.context - 1, (args.batch,), generator=gen)
        window = torch.stack([data[s:s + args.context + 1] for s in starts.tolist()])
        return window[:, :-1].contiguous(), window[:, 1:].contiguous()

    if args.router == "ida":
        # The mixture starts on data, as idamoe's initializeMixture does: means on K latents of one
        # batch, log-variances at the per-feature latent variance, equal priors.
        with torch.no_grad():
            inputs, _ = batch()
            x = model.tok_emb(inputs) + model.pos_emb(torch.arange(args.context))
            for block in model.blocks:
                f = block.ffn_norm(x + block.attn(block.attn_norm(x))).reshape(-1, args.width)
                r = block.router
                z = rms(r.encoder(rms(f)))
                rows = torch.randperm(z.shape[0], generator=gen)[:r.means.shape[0]]
                r.means.copy_(z[rows])
                r.log_vars.copy_(z.var(0, unbiased=False).clamp_min(1e-6).log().clamp(-6, 6).expand_as(r.log_vars))
                x, _ = block(x)

    # dynamic: the experts' token counts change every step; without it each new count recompiles.
    forward = torch.compile(model, dynamic=True) if args.compile else model

    def step() -> float:
        inputs, targets = batch()
        optimizer.zero_grad(set_to_none=False)
        loss = forward(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in backbone], 1.0)
        if router:
            torch.nn.utils.clip_grad_norm_(router, 1.0)
        optimizer.step()
        return float(loss.detach())

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    elapsed = time.perf_counter() - t0
    tokens = args.steps * args.batch * args.context
    print(f"torch {torch.__version__} {'compile' if args.compile else 'eager'}, {torch.get_num_threads()} threads, router {args.router}: "
          f"{tokens / elapsed:.0f} tokens/s, {1000 * elapsed / args.steps:.1f} ms/step, loss {loss:.3f}")


if __name__ == "__main__":
    main()
