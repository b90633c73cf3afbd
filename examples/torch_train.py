#!/usr/bin/env python3
"""A small byte-level MoE transformer trained in PyTorch on the fortunes corpus (one domain per file)
with IDA routers, writing a run directory that `idamoe inspect` follows live.

    python examples/torch_train.py --run-dir runs/torch-ida &
    idamoe inspect runs/torch-ida
    python examples/torch_train.py --nproc 2 --run-dir runs/torch-ida-2   # torch.distributed, gloo, CPU

The corpus is read and split as `idamoe train` reads and splits it (Sources/IdaTraining/Data): every
file is a domain, documents end at lines holding `%`, each document goes to validation with
probability 0.1 by the same seeded generator, and the probe holds the first validation documents of
every domain (64 bytes or more each). With --nproc N every rank draws its own batches; the run
directory describes the global batch (RunWriter sums the counts over ranks) and only rank 0 writes.
"""
from __future__ import annotations

import argparse
import math
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, cast

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from idamoe_torch import IDARouter, ReactivationConfig, RunWriter, SigmoidBiasRouter, SoftmaxRouter, combine_experts
from idamoe_torch.reactivation import SplitMix64

# ------------------------------------------------------------------------------------------------
# corpus and split (the rules of Corpus.swift and Dataset.swift)


def split_documents(data: bytes) -> List[bytes]:
    """Documents of a file: text between lines holding only `%`; without such lines, paragraphs."""
    lines = data.split(b"\n")
    docs: List[bytes] = []
    current: List[bytes] = []
    saw_separator = False
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if line.rstrip(b"\r") == b"%":
            saw_separator = True
            docs.append(b"".join(current))
            current = []
        elif not last or line:
            current.append(line + (b"" if last else b"\n"))
    docs.append(b"".join(current))
    docs = [d for d in docs if d.strip(b"\n ")]
    if not saw_separator and len(docs) == 1:
        return [p for p in docs[0].split(b"\n\n") if p.strip(b"\n ")]
    return docs


def read_corpus(paths: List[str]) -> List[Tuple[str, List[bytes]]]:
    """(file name, documents) per domain: files, or folders one level deep, sorted by name; `.dat`
    files, binary files and links to files already read are skipped."""
    files: List[str] = []
    seen = set()
    for path in paths:
        names = [os.path.join(path, n) for n in sorted(os.listdir(path))] if os.path.isdir(path) else [path]
        for f in names:
            real = os.path.realpath(f)
            if f.endswith(".dat") or not os.path.isfile(real) or real in seen:
                continue
            seen.add(real)
            files.append(f)
    domains = []
    for f in files:
        with open(f, "rb") as handle:
            data = handle.read()
        docs = [] if b"\0" in data else split_documents(data)
        if docs:
            domains.append((os.path.basename(f), docs))
    if not domains:
        sys.exit(f"error: no text files under {', '.join(paths)} (install Debian's fortunes or pass --corpus)")
    return domains


@dataclass
class Stream:
    """Bytes with the domain and document of each; documents end with "%\\n" as in the Swift dataset."""

    tokens: List[int] = field(default_factory=list)
    domains: List[int] = field(default_factory=list)
    documents: List[int] = field(default_factory=list)

    def append(self, doc: bytes, domain: int, document: int) -> None:
        body = (doc if doc.endswith(b"\n") else doc + b"\n") + b"%\n"
        self.tokens += list(body)
        self.domains += [domain] * len(body)
        self.documents += [document] * len(body)


def split_corpus(domains: List[Tuple[str, List[bytes]]], seed: int, share: float = 0.1, probe_bytes: int = 64,
                 max_document: int = 128) -> Tuple[Stream, List[Stream], Stream]:
    """Training stream, validation stream per domain, probe: the split of Dataset.swift."""
    train, validation, probe = Stream(), [], Stream()
    document = 0
    for d, (_, docs) in enumerate(domains):
        held = [SplitMix64(seed ^ (d << 32) ^ ((i * 0x9E3779B9) & (2**64 - 1))).unit() < share for i in range(len(docs))]
        if len(docs) >= 2:
            if not any(held):
                held[-1] = True
            if all(held):
                held[0] = False
        stream, taken = Stream(), 0
        for i, doc in enumerate(docs):
            if held[i]:
                stream.append(doc, d, document)
                if taken < probe_bytes:
                    probe.append(doc[:max_document], d, document)
                    taken += len(doc[:max_document])
            else:
                train.append(doc, d, document)
            document += 1
        validation.append(stream)
    return train, validation, probe


# ------------------------------------------------------------------------------------------------
# model


class MoE(nn.Module):
    """A router and E GELU expert MLPs; each token's output is the gate-weighted sum of its k experts."""

    def __init__(self, router: nn.Module, width: int, hidden: int, experts: int) -> None:
        super().__init__()
        self.router = router
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))
                                     for _ in range(experts))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        flat = x.reshape(-1, x.shape[-1])
        route = self.router(flat)
        return combine_experts(route, flat, list(self.experts)).reshape(x.shape), route.loss


class Block(nn.Module):
    """Pre-norm causal attention and a MoE feed-forward; the router reads the normalised input."""

    def __init__(self, args: argparse.Namespace, router: nn.Module) -> None:
        super().__init__()
        self.heads = args.heads
        self.attn_norm = nn.RMSNorm(args.width)
        self.qkv = nn.Linear(args.width, 3 * args.width)
        self.proj = nn.Linear(args.width, args.width)
        self.ffn_norm = nn.RMSNorm(args.width)
        self.moe = MoE(router, args.width, args.expert_hidden, args.experts)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d))
        y, router_loss = self.moe(self.ffn_norm(x))
        return x + y, router_loss


class MoETransformer(nn.Module):
    """Byte embeddings, blocks, final norm and the tied output head."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.tok_emb = nn.Embedding(256, args.width)
        self.pos_emb = nn.Embedding(args.context, args.width)
        self.blocks = nn.ModuleList(Block(args, make_router(args, i)) for i in range(args.blocks))
        self.norm = nn.RMSNorm(args.width)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.tok_emb(tokens) + self.pos_emb(torch.arange(tokens.shape[1]))
        router_loss = x.new_zeros(())
        for block in self.blocks:
            x, loss = block(x)
            router_loss = router_loss + loss
        return self.norm(x) @ self.tok_emb.weight.T, router_loss

    def routers(self) -> List[nn.Module]:
        """The router of every block, in block order."""
        return [cast(Block, b).moe.router for b in self.blocks]


def make_router(args: argparse.Namespace, block: int) -> nn.Module:
    if args.router == "softmax":
        return SoftmaxRouter(args.width, experts=args.experts, top_k=args.top_k, aux_loss=args.aux_loss, z_loss=args.z_loss)
    if args.router == "sigmoid-bias":
        return SigmoidBiasRouter(args.width, experts=args.experts, top_k=args.top_k, bias_rate=args.bias_rate)
    return IDARouter(args.width, experts=args.experts, components_per_expert=args.components, latent_dim=args.latent,
                     top_k=args.top_k, hidden=args.router_hidden,
                     reactivation=ReactivationConfig(mode=args.reactivation, every=args.react_every),
                     seed=args.seed + block)


# ------------------------------------------------------------------------------------------------
# training


def windows(stream: Stream, count: int, time: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random windows of time + 1 bytes of the stream [count, time + 1]."""
    data = torch.tensor(stream.tokens, dtype=torch.long)
    starts = torch.randint(0, len(data) - time - 1, (count,), generator=generator)
    return torch.stack([data[s: s + time + 1] for s in starts.tolist()])


def learning_rate(peak: float, step: int, args: argparse.Namespace) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step <= args.warmup:
        return peak * step / max(args.warmup, 1)
    progress = (step - args.warmup) / max(args.steps - args.warmup, 1)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


@torch.no_grad()
def validate(model: MoETransformer, validation: List[Stream], names: List[str], args: argparse.Namespace) -> Tuple[float, Dict[str, float]]:
    """Validation bits per byte, overall (byte-weighted) and per domain, over the first windows of each domain."""
    model.eval()
    total, count, per_domain = 0.0, 0, {}
    for name, stream in zip(names, validation):
        n = min(args.eval_windows, (len(stream.tokens) - 1) // args.context)
        if n < 1:
            continue
        data = torch.tensor(stream.tokens[: n * args.context + 1], dtype=torch.long)
        x = torch.stack([data[i * args.context: (i + 1) * args.context] for i in range(n)])
        y = torch.stack([data[i * args.context + 1: (i + 1) * args.context + 1] for i in range(n)])
        logits, _ = model(x)
        nats = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="sum").item()
        per_domain[name] = nats / y.numel() / math.log(2)
        total, count = total + nats, count + y.numel()
    model.train()
    return total / max(count, 1) / math.log(2), per_domain


def train(rank: int, world: int, port: int, args: argparse.Namespace, domains: List[Tuple[str, List[bytes]]]) -> None:
    torch.set_num_threads(args.threads)
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
    names = [name for name, _ in domains]
    train_stream, validation, probe = split_corpus(domains, args.seed)
    if len(train_stream.tokens) <= args.context + 1:
        sys.exit(f"error: the corpus has {len(train_stream.tokens)} training bytes; it needs more than {args.context + 1}")
    torch.manual_seed(args.seed)  # the same initial model on every rank
    model = MoETransformer(args)
    if args.router == "ida":
        # Place every mixture on the router inputs of one batch (the same batch on every rank).
        first = windows(train_stream, args.batch, args.context, torch.Generator().manual_seed(args.seed ^ 0x1DA1))
        inputs: Dict[int, torch.Tensor] = {}
        hooks = [r.register_forward_pre_hook(lambda _m, a, i=i: inputs.__setitem__(i, a[0].detach()))
                 for i, r in enumerate(model.routers())]
        with torch.no_grad():
            model(first[:, :-1])
        for h in hooks:
            h.remove()
        for i, r in enumerate(model.routers()):
            cast(IDARouter, r).initialize_mixture(inputs[i], generator=torch.Generator().manual_seed(args.seed + i))
    net: nn.Module = DistributedDataParallel(model, find_unused_parameters=True) if world > 1 else model
    router_params = [p for r in model.routers() for p in r.parameters()] if args.router == "ida" else []
    routed = {id(p) for p in router_params}
    decay = [p for n, p in model.named_parameters() if id(p) not in routed and p.dim() == 2 and "emb" not in n]
    plain = [p for n, p in model.named_parameters() if id(p) not in routed and not (p.dim() == 2 and "emb" not in n)]
    groups: List[Dict[str, Any]] = [dict(params=decay, weight_decay=0.1), dict(params=plain, weight_decay=0.0)]
    if router_params:
        groups.append(dict(params=router_params, weight_decay=0.0, router=True))
    opt = torch.optim.AdamW(groups, lr=args.lr)

    probe_tokens = torch.tensor(probe.tokens, dtype=torch.long)

    def probe_forward(tokens: torch.Tensor) -> None:
        # The probe in windows of T tokens, in order (the last one shorter), through the unwrapped model.
        for start in range(0, tokens.numel(), args.context):
            model(tokens[start: start + args.context][None])

    writer = RunWriter(args.run_dir, model, probe_tokens=probe_tokens, probe_forward=probe_forward,
                       probe_domains=torch.tensor(probe.domains), probe_documents=torch.tensor(probe.documents),
                       domain_names=names,
                       model_config=dict(width=args.width, heads=args.heads, blocks=args.blocks, context=args.context,
                                         expertHidden=args.expert_hidden, vocab=256),
                       training_config=dict(steps=args.steps, batch=args.batch * world, learningRate=args.lr,
                                            routerLearningRate=args.router_lr, warmup=args.warmup, seed=args.seed,
                                            snapshotEvery=args.snapshot_every, evalEvery=args.eval_every,
                                            corpus=args.corpus, processes=world),
                       corpus_bytes=sum(len(d) for _, docs in domains for d in docs))
    batches = torch.Generator().manual_seed(args.seed * 1000 + rank)  # each rank its own batches
    for step in range(1, args.steps + 1):
        lr, router_lr = learning_rate(args.lr, step, args), learning_rate(args.router_lr, step, args)
        for g in opt.param_groups:
            g["lr"] = router_lr if g.get("router") else lr
        batch = windows(train_stream, args.batch, args.context, batches)
        logits, router_loss = net(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        (loss + router_loss).backward()
        # Backbone and router gradients answer to different losses: clipped separately, as idamoe train does.
        grad_norm = nn.utils.clip_grad_norm_(decay + plain, 1.0)
        router_norm = nn.utils.clip_grad_norm_(router_params, 1.0) if router_params else None
        opt.step()
        writer.step(step, loss.item(), lr=lr, router_lr=router_lr if router_params else None,
                    grad_norm=float(grad_norm), router_grad_norm=None if router_norm is None else float(router_norm))
        if writer.writes and (step % args.eval_every == 0 or step == args.steps):
            with writer.heldout() as loads:  # the held-out CV of the validation routings (rank 0's)
                bpb, per_domain = validate(model, validation, names, args)
            writer.eval(step, bpb, per_domain, heldout=loads)
        if step % args.snapshot_every == 0 or step == args.steps:
            writer.snapshot(step)
        if rank == 0 and not args.quiet and (step % 10 == 0 or step == args.steps):
            print(f"step {step}/{args.steps}  loss {loss.item():.3f}", flush=True)
    writer.finish(args.steps)
    if world > 1:
        dist.destroy_process_group()


def parse(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--run-dir", help="run directory (default runs/<timestamp>-torch-<router>)")
    p.add_argument("--corpus", nargs="+", default=["/usr/share/games/fortunes"], help="files or folders, each file a domain")
    p.add_argument("--router", choices=["ida", "softmax", "sigmoid-bias"], default="ida")
    p.add_argument("--nproc", type=int, default=1, help="processes under torch.distributed (gloo, CPU)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch", type=int, default=8, help="sequences per batch and process")
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--expert-hidden", type=int, default=128)
    p.add_argument("--top-k", type=int, default=2)
    p.add_argument("--components", type=int, default=4, help="IDA components per expert M")
    p.add_argument("--latent", type=int, default=16, help="IDA latent width P")
    p.add_argument("--router-hidden", type=int, nargs="*", default=[32], help="IDA encoder hidden widths")
    p.add_argument("--reactivation", choices=["reset", "loss", "off"], default="reset")
    p.add_argument("--react-every", type=int, default=50)
    p.add_argument("--aux-loss", type=float, default=0.0, help="softmax: Switch auxiliary loss weight")
    p.add_argument("--z-loss", type=float, default=0.0, help="softmax: z-loss weight")
    p.add_argument("--bias-rate", type=float, default=0.001, help="sigmoid-bias: step of the selection bias")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--router-lr", type=float, default=1e-2)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--snapshot-every", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--eval-windows", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.width % args.heads:
        p.error(f"--width {args.width} must be a multiple of --heads {args.heads}")
    if args.nproc < 1:
        p.error("--nproc must be at least 1")
    args.run_dir = args.run_dir or f"runs/{time.strftime('%Y%m%d-%H%M%S')}-torch-{args.router}"
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    args = parse()
    if os.path.exists(os.path.join(args.run_dir, "run.json")):
        sys.exit(f"error: {args.run_dir} already holds a run; pick another --run-dir")
    domains = read_corpus(args.corpus)
    if args.nproc == 1:
        train(0, 1, 0, args, domains)
    else:
        # fork: the parent has run no torch operation, and the children skip re-importing torch.
        mp.start_processes(train, args=(args.nproc, free_port(), args, domains), nprocs=args.nproc, start_method="fork")
    print(f"run written to {args.run_dir}; inspect it with: idamoe inspect {args.run_dir}")


if __name__ == "__main__":
    main()
