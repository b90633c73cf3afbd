"""`python -m idamoe_torch fit-ida --probe P --experts E --components M --latent 32 --out C`, `python -m idamoe_torch import {megatron|sglang|vllm} SRC --out RUN` and
`python -m idamoe_torch capture --model DIR --text FILE --out OUT`."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import torch

from .fit import DEFAULTS as FIT, FIT_REACTIVATIONS, fit_ida
from . import importing
from .contract import TAU
from .layers import ACTIVATIONS, EXPERT_SCORES, NORMS, PRIOR_MASSES, ContractError


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """fit-ida's and capture's help: every default shown, except where there is none (a required option)
    or the help itself says what absence means."""

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        return action.help if action.default is None else super()._get_help_string(action)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m idamoe_torch", description="idamoe's PyTorch tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit-ida", formatter_class=_DefaultsShown,
                              help="fit IDA routers post hoc to a probe's router inputs; write a checkpoint",
                              description="Fits one IDA router per MoE block of the probe and writes checkpoint OUT, "
                                          "which `idamoe route --probe P`, `idamoe diff` and `idamoe inspect` read: "
                                          "the autoencoders of a group of blocks together (reconstruction) until the "
                                          "loss stops falling, then each block's mixture by EM on its latents from "
                                          "k-means++ seeds, components grouped into experts by load. One progress "
                                          "line per group and per block on stderr.")
    fit.add_argument("--probe", required=True, help="probe with layers.{i}.hidden (e.g. a run's snapshot probe)")
    fit.add_argument("--out", required=True, help="checkpoint to write")
    fit.add_argument("--experts", type=int, required=True, help="experts E per block")
    fit.add_argument("--components", type=int, default=FIT.components, help="components per expert M")
    fit.add_argument("--latent", type=int, default=FIT.latent, help="latent width P")
    fit.add_argument("--hidden", type=int, nargs="*", default=list(FIT.hidden), help="encoder hidden widths")
    fit.add_argument("--top-k", type=int, default=FIT.top_k, help="experts per token k")
    fit.add_argument("--layer", type=int, action="append", metavar="I",
                     help="fit only block I (repeatable; when absent, every block of the probe)")
    fit.add_argument("--steps", type=int, default=FIT.steps,
                     help="autoencoder steps at most (fewer once the reconstruction loss plateaus)")
    fit.add_argument("--batch", type=int, default=FIT.batch, help="tokens per autoencoder step")
    fit.add_argument("--lr", type=float, default=FIT.lr, help="Adam learning rate of the autoencoders")
    fit.add_argument("--plateau", type=float, default=FIT.plateau,
                     help="autoencoders stop when the mean loss of the last 25 steps is less than this fraction "
                          "of the input's mean square below that of the 25 before, in every block of the group")
    fit.add_argument("--em-steps", type=int, default=FIT.em_steps, help="EM iterations of the mixture at most")
    fit.add_argument("--em-tol", type=float, default=FIT.em_tol,
                     help="EM stops once the NLL per token falls by less than this (nats)")
    fit.add_argument("--em-tokens", type=int, default=FIT.em_tokens,
                     help="latents EM fits on (a random subset of the probe's tokens when it has more)")
    fit.add_argument("--variance-prior", type=float, default=FIT.variance_prior,
                     help="weight in tokens pulling each component's variances toward the pooled one (0: plain EM)")
    fit.add_argument("--seed", type=int, default=FIT.seed, help="seed of initialisation and draws")
    fit.add_argument("--reactivation", choices=FIT_REACTIVATIONS, default=FIT.reactivation,
                     help=f"reset: dead components (prior and top-1 share below {TAU}/K) move to badly explained latents")
    fit.add_argument("--react-every", type=int, default=FIT.react_every, help="EM iterations between dead-component checks")
    fit.add_argument("--activation", choices=ACTIVATIONS, default=FIT.activation, help="encoder and decoder activation")
    fit.add_argument("--expert-score", choices=EXPERT_SCORES, default=FIT.expert_score,
                     help="an expert's score: the max or the sum of its components' posteriors")
    fit.add_argument("--input-norm", choices=NORMS, default=FIT.input_norm, help="norm of the router input")
    fit.add_argument("--latent-norm", choices=NORMS, default=FIT.latent_norm, help="norm of the latent")
    fit.add_argument("--prior-mass", choices=PRIOR_MASSES, default=FIT.prior_mass,
                     help="mixture prior normalised over all components, or within each expert (each holds 1/E)")
    fit.add_argument("--device", default=FIT.device,
                     help="cpu, cuda or cuda:N (cuda without a GPU: a message, then the CPU)")
    fit.add_argument("--group-mib", type=int, default=FIT.group_bytes >> 20,
                     help="MiB of hidden states (as stored) whose blocks are fitted together")
    fit.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    cap = commands.add_parser("capture", formatter_class=_DefaultsShown,
                              help="capture a Hugging Face MoE model's routers and their inputs on a text",
                              description="Loads the causal LM in DIR (local files only, never downloads), finds its MoE "
                                          "routers by structure, runs the text through it and writes run directory OUT "
                                          "(routers as snapshot step 0, their inputs as its probe) for `idamoe inspect OUT`, "
                                          "`idamoe diff OUT OTHER` and fit-ida.")
    cap.add_argument("--model", required=True, help="model directory (save_pretrained layout)")
    cap.add_argument("--text", required=True, help="UTF-8 text file to run through the model")
    cap.add_argument("--out", required=True, help="run directory to create (a new path or an empty directory)")
    cap.add_argument("--max-tokens", type=int, default=2048, help="tokens of the text to capture")
    cap.add_argument("--window", type=int, default=256, help="tokens per sequence (each window is its own sequence)")
    cap.add_argument("--batch", type=int, default=4, help="windows per forward")
    cap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                     help="precision the model runs in (routers and probe are written in float32)")
    cap.add_argument("--device", default=None,
                     help="cpu or cuda (default: cuda when PyTorch sees a GPU, else cpu)")
    cap.add_argument("--device-map", choices=["auto"], default=None,
                     help="spread a model larger than one device over every GPU and the CPU (needs accelerate)")
    cap.add_argument("--unverified", action="store_true",
                     help="write a capture whose routing cannot be checked, or that no rule of the contract reproduces "
                          "on every token (run.json's capture says UNVERIFIED)")
    cap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    importing.add_parser(commands)
    args = parser.parse_args(argv)
    if getattr(args, "threads", 0) > 0:
        torch.set_num_threads(args.threads)
    if args.command == "import":
        return _import(args)
    if args.command == "capture":
        return _capture(args)
    return _fit_ida(args)


def _fit_ida(args: argparse.Namespace) -> int:
    """The fit-ida command: a progress line per group and per block on stderr as they finish, a summary
    line per block on stdout at the end."""
    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        reports = fit_ida(args.probe, args.out, args.experts, args.components, args.latent, hidden=args.hidden,
                          top_k=args.top_k, steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                          reactivation=args.reactivation, react_every=args.react_every, activation=args.activation,
                          expert_score=args.expert_score, input_norm=args.input_norm, latent_norm=args.latent_norm,
                          prior_mass=args.prior_mass, layers=args.layer, plateau=args.plateau, em_steps=args.em_steps,
                          em_tol=args.em_tol,
                          em_tokens=args.em_tokens, variance_prior=args.variance_prior, device=args.device, group_bytes=args.group_mib << 20, log=progress)
    except (ContractError, ValueError, OSError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    for r in reports:
        print(f"layer {r.layer}: NLL {r.nll_before:.3f} -> {r.nll_after:.3f} per token, load CV {r.cv:.3f}, dead {r.dead}")
    print(f"wrote {args.out}")
    return 0


def _capture(args: argparse.Namespace) -> int:
    """The capture command: one line per router and what was checked; errors in one line, exit 1."""
    from .capture import DTYPES, capture

    try:
        with open(args.text, encoding="utf-8") as text:  # read only as far as --max-tokens needs
            report = capture(args.model, text, args.out, max_tokens=args.max_tokens, window=args.window,
                             batch=args.batch, dtype=DTYPES[args.dtype], device=args.device,
                             device_map=args.device_map, unverified=args.unverified, log=print)
    except (ContractError, ValueError, OSError, KeyError, RuntimeError, ImportError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    for block, gate in report.gates.items():
        c = report.checks[block]
        if report.unverified:
            check = ("UNVERIFIED: not checked" if c.tokens == 0 else
                     f"UNVERIFIED: other experts on {c.other_experts}, other gate weights on {c.other_weights} of {c.tokens} tokens")
        else:
            at = "what the block hands its experts" if c.source == "experts" else "the gate's output"
            check = (f"same experts as the model on {c.tokens} of {c.tokens} tokens ({c.ties} at near-ties), gate weights "
                     f"within {c.largest or 0.0:.2g} (read from {at})")
        print(f"block {block}: {gate.name} -> {report.kind} router; {check}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"wrote {args.out} ({report.tokens} tokens, {report.tokens_per_second:,.0f} tokens/s through the model; "
          f"idamoe inspect {args.out})")
    return 0


def _import(args: argparse.Namespace) -> int:
    """The import command: one line on stderr and status 1 for a bad input or directory; Ctrl-C stops a
    --follow import with the run kept (status 0), a one-shot one with nothing written (status 130)."""
    try:
        return importing.run_command(args)
    except ContractError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("import: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
