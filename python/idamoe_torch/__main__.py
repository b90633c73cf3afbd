"""`python -m idamoe_torch fit-ida --probe P --experts E --components M --latent 32 --out C`."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import torch

from .fit import fit_ida
from .layers import ACTIVATIONS, EXPERT_SCORES, NORMS, ContractError


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idamoe_torch", description="idamoe's PyTorch tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit-ida", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                              help="fit IDA routers post hoc to a probe's router inputs; write a checkpoint",
                              description="Fits one IDA router per MoE block of the probe (autoencoder and mixture, "
                                          "NLL on the mixture only, with reactivation) and writes checkpoint OUT, "
                                          "which `idamoe route --probe P`, `idamoe diff` and `idamoe inspect` read.")
    fit.add_argument("--probe", required=True, help="probe with layers.{i}.hidden (e.g. a run's snapshot probe)")
    fit.add_argument("--out", required=True, help="checkpoint to write")
    fit.add_argument("--experts", type=int, required=True)
    fit.add_argument("--components", type=int, default=16, help="components per expert M")
    fit.add_argument("--latent", type=int, default=32, help="latent width P")
    fit.add_argument("--hidden", type=int, nargs="*", default=[128], help="encoder hidden widths")
    fit.add_argument("--top-k", type=int, default=2)
    fit.add_argument("--layer", type=int, action="append", help="fit only this block (repeatable; default: every block)")
    fit.add_argument("--steps", type=int, default=500)
    fit.add_argument("--batch", type=int, default=1024, help="tokens per step")
    fit.add_argument("--lr", type=float, default=1e-2)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--reactivation", choices=["reset", "loss", "off"], default="reset")
    fit.add_argument("--react-every", type=int, default=50)
    fit.add_argument("--activation", choices=ACTIVATIONS, default="gelu")
    fit.add_argument("--expert-score", choices=EXPERT_SCORES, default="max")
    fit.add_argument("--input-norm", choices=NORMS, default="rms")
    fit.add_argument("--latent-norm", choices=NORMS, default="rms")
    fit.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        reports = fit_ida(args.probe, args.out, args.experts, args.components, args.latent, hidden=args.hidden,
                          top_k=args.top_k, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                          reactivation=args.reactivation, react_every=args.react_every, activation=args.activation,
                          expert_score=args.expert_score, input_norm=args.input_norm, latent_norm=args.latent_norm,
                          layers=args.layer)
    except (ContractError, ValueError, OSError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    for r in reports:
        print(f"layer {r.layer}: NLL {r.nll_before:.3f} -> {r.nll_after:.3f} per token, load CV {r.cv:.3f}, dead {r.dead}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
