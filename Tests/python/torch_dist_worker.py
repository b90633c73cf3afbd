"""A tiny MoE model trained under torch.distributed (gloo, CPU) with a RunWriter, for
test_torch_run.py. Usage: python torch_dist_worker.py RUN_DIR RESULTS_DIR WORLD STEPS ROUTER.

Rank 0 writes RUN_DIR; every other rank is handed RUN_DIR-rank<r>, a directory that must never come
to exist (the writer does no file I/O there). Each rank saves, for the test only, its local expert
counts per step and a fingerprint of its router parameters to RESULTS_DIR/rank<r>.pt; rank 0 also
saves its routers' own decisions on the last snapshot's probe (taken at the last step).
"""
from __future__ import annotations

import os
import socket
import sys
from typing import Dict, List

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from idamoe_torch import IDARouter, ReactivationConfig, RunWriter, SigmoidBiasRouter, SoftmaxRouter, combine_experts

D, E, VOCAB, T, B = 16, 4, 64, 8, 4


class Block(nn.Module):
    def __init__(self, router: nn.Module) -> None:
        super().__init__()
        self.router = router
        self.experts = nn.ModuleList(nn.Linear(D, D) for _ in range(E))

    def forward(self, x: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        flat = x.reshape(-1, D)
        out = self.router(flat)
        return x + combine_experts(out, flat, list(self.experts)).reshape(x.shape), out.loss


class Tiny(nn.Module):
    def __init__(self, router: str) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D)

        def make() -> nn.Module:
            if router == "ida":
                return IDARouter(D, experts=E, components_per_expert=2, latent_dim=4, hidden=(8,),
                                 reactivation=ReactivationConfig(mode="reset", every=2, tau=1.5, usage_decay=0.0))
            if router == "sigmoid-bias":
                return SigmoidBiasRouter(D, experts=E, top_k=2, bias_rate=0.01)
            return SoftmaxRouter(D, experts=E, top_k=2, aux_loss=0.01, z_loss=0.001)
        self.layers = nn.ModuleList([Block(make()), Block(make())])
        self.head = nn.Linear(D, VOCAB)

    def forward(self, tokens: torch.Tensor) -> "tuple[torch.Tensor, torch.Tensor]":
        x = self.emb(tokens)
        router_loss = x.new_zeros(())
        for block in self.layers:
            x, loss = block(x)
            router_loss = router_loss + loss
        return self.head(x), router_loss


def worker(rank: int, world: int, port: int, run_dir: str, results: str, steps: int, router: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the same initial model on every rank
    model = Tiny(router)
    ddp = DistributedDataParallel(model, find_unused_parameters=True)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
    probe = torch.arange(3 * T) % VOCAB
    writer = RunWriter(run_dir if rank == 0 else f"{run_dir}-rank{rank}", model, probe_tokens=probe,
                       probe_forward=lambda t: model(t.reshape(-1, T)), probe_domains=torch.arange(3 * T) // T,
                       domain_names=["a", "b", "c"], training_config=dict(seed=0, steps=steps))
    data = torch.Generator().manual_seed(100 + rank)  # each rank its own batches
    counts: List[Dict[int, List[float]]] = []
    for step in range(1, steps + 1):
        tokens = torch.randint(0, VOCAB, (B + rank, T + 1), generator=data)  # ranks differ in batch size too
        logits, router_loss = ddp(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        (loss + router_loss).backward()
        opt.step()
        counts.append({i: block.router.step_stats.expert_counts.tolist() for i, block in enumerate(model.layers)})
        writer.step(step, loss.item(), lr=0.05)
        if step % 2 == 0 or step == steps:  # as the Swift trainer: on schedule and at the last step
            writer.snapshot(step)
    # Parameters and buffers (the sigmoid-bias routers' selection biases move outside the optimizer).
    fingerprint = torch.cat([t.detach().double().reshape(-1) for t in model.state_dict().values()])
    out = dict(counts=counts, fingerprint=fingerprint, dead={i: b.router.reactivation.dead_count
                                                            for i, b in enumerate(model.layers)
                                                            if router == "ida"},
               bias={i: b.router.expert_bias.clone() for i, b in enumerate(model.layers) if router == "sigmoid-bias"})
    if rank == 0:
        from safetensors.torch import load_file
        hidden = load_file(os.path.join(run_dir, "snapshots", f"step-{steps:08d}.probe.safetensors"))
        out["routes"] = {i: b.router.route(hidden[f"layers.{i}.hidden"]) for i, b in enumerate(model.layers)}
        writer.finish(steps)
    torch.save(out, os.path.join(results, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    run_dir, results, world, steps, router = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    # fork: the children start without importing torch again (seconds per process on a busy machine).
    mp.start_processes(worker, args=(world, free_port(), run_dir, results, steps, router), nprocs=world, join=True,
                       start_method="fork")
