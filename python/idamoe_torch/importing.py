"""`python -m idamoe_torch import {megatron|sglang|vllm} SRC --out RUN [--follow]`: the command line and
the loop every importer shares (docs/importing.md). An importer is a *source*: `prepare()` (called
before `run_import`) reads enough to know E, top-k and the blocks; `records()` yields `StepRecords` in step order (following: forever);
`final_snapshot()` gives the last step's probe when it was not snapshotted on the way;
`summary_notes()` what run.json's `imported.notes` should say."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Protocol, Tuple

from .files import publish
from .layers import ContractError
from .recorded import ProbeRows, RecordedRun, StepRecords

#: The producers `import` reads.
PRODUCERS = ("megatron", "sglang", "vllm")


class Source(Protocol):
    experts: Optional[int]
    blocks: List[int]

    def prepare(self) -> None: ...
    def records(self) -> Iterator[StepRecords]: ...
    def summary_notes(self) -> List[str]: ...


class Progress:
    """One progress line on stderr: rewritten in place on a terminal, else printed every 10 s."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0 if self.tty else self.start  # a log gets its first line after 10 s
        self.shown = False

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        every = 0.5 if self.tty else 10.0
        if not force and now - self.last < every:
            return
        self.last = now
        line = f"import: {text} · {now - self.start:.1f} s"
        if self.tty:
            sys.stderr.write("\r\033[K" + line)
            self.shown = True
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def run_import(source: Any, out: str, *, follow: bool, imported: Dict[str, Any], domains: List[str],
               vocab: Any, top_k: int) -> Tuple[RecordedRun, int]:
    """Converts `source` (prepared) into run directory `out`. Returns the run and the tokens routed."""
    progress = Progress()
    assert source.experts is not None
    info = dict(imported)
    notes = source.summary_notes()
    if notes:
        info["notes"] = notes
    run = RecordedRun(out, experts=source.experts, top_k=top_k, blocks=source.blocks, imported=info,
                      domains=domains, vocab=vocab, follow=follow)
    tokens = 0
    try:
        for rec in source.records():
            run.write(rec)
            tokens += rec.tokens
            progress.update(f"step {rec.step} · {run.steps_written:,} steps · {tokens:,} tokens · "
                            f"{run.snapshots_written} snapshots" + (" · following (Ctrl-C stops)" if follow else ""))
        final = getattr(source, "final_snapshot", lambda: None)()
        if final is not None:
            run.snapshot(*final)
        if not follow:
            notes = source.summary_notes()
            if notes:
                info["notes"] = notes
            _rewrite_imported(run, info)
        run.finish()
    except KeyboardInterrupt:
        progress.done()
        if follow and run.steps_written:
            run.stop()
            return run, tokens
        run.abort()
        raise
    except BaseException:
        progress.done()
        if follow and run.steps_written:
            run.stop()  # a live run keeps every complete step it logged
        else:
            run.abort()
        raise
    progress.done()
    return run, tokens


def _rewrite_imported(run: RecordedRun, info: Dict[str, Any]) -> None:
    """run.json's `imported` with the notes of the whole read (a staged import: nobody reads it yet)."""
    path = os.path.join(run.dir, "run.json")
    with open(path, "rb") as f:
        body = json.loads(f.read())
    body["imported"] = info
    publish((json.dumps(body, indent=2, sort_keys=True) + "\n").encode(), path)


def add_parser(commands: Any) -> None:
    """The `import` subcommand."""
    imp = commands.add_parser(
        "import", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="turn routing records of Megatron-Core, SGLang or vLLM into a run idamoe reads",
        description="Reads the routing decisions another program recorded in SRC and writes run directory OUT "
                    "(a new path or an empty directory): step events with every MoE layer's load (summed over "
                    "ranks and each rank's) and snapshots whose probe holds each token's experts, for "
                    "`idamoe inspect OUT`, `idamoe route OUT` and `idamoe diff`. docs/importing.md says what "
                    "each producer must be asked to record.")
    imp.add_argument("producer", choices=PRODUCERS, help="what wrote SRC")
    imp.add_argument("src", metavar="SRC", help="megatron: the trace directory (--moe-routing-trace-path) or the save "
                     "directory holding tokens_per_expert/; sglang: a dump file or directory; vllm: a .jsonl or .pt file")
    imp.add_argument("--out", required=True, help="run directory to create (a new path or an empty directory)")
    imp.add_argument("--follow", action="store_true",
                     help="keep converting as the producer appends (Ctrl-C stops; the run keeps every complete step)")
    imp.add_argument("--experts", type=int, default=None,
                     help="experts E per layer (default: from the records, when they say)")
    imp.add_argument("--top-k", type=int, default=None, help="experts per token (default: from the records)")
    imp.add_argument("--snapshot-every", type=int, default=50,
                     help="a snapshot (probe of per-token records) every this many steps, besides the first and last")
    imp.add_argument("--probe-tokens", type=int, default=4096, help="tokens per snapshot probe at most")
    meg = imp.add_argument_group("megatron")
    meg.add_argument("--score-function", choices=["softmax", "sigmoid"], default=None,
                     help="the router's score function, for entropy from traced logits (default: the dumped router "
                          "state's, else softmax)")
    meg.add_argument("--no-hidden", action="store_true", help="leave traced hidden states out of the probes")
    meg.add_argument("--ep", type=int, default=1, help="tokens-per-expert logs: expert-parallel size")
    meg.add_argument("--etp", type=int, default=1, help="tokens-per-expert logs: expert tensor-parallel size")
    serve = imp.add_argument_group("sglang and vllm")
    serve.add_argument("--tokenizer", default=None,
                       help="a local tokenizer directory to show token ids as text (never downloads)")
    serve.add_argument("--group", type=int, default=None,
                       help="forward passes (sglang) or requests (vllm) per step event")


def run_command(args: argparse.Namespace) -> int:
    """The `import` command: a progress line on stderr, one summary line on stdout."""
    if args.snapshot_every < 0 or args.probe_tokens < 1:
        raise ContractError("--snapshot-every must be at least 0 and --probe-tokens at least 1")
    if args.experts is not None and args.experts < 1:
        raise ContractError("--experts must be at least 1")
    out = os.path.abspath(args.out)
    src = os.path.abspath(args.src)
    if out == src or out.startswith(src.rstrip(os.sep) + os.sep):
        raise ContractError(f"--out {args.out}: inside SRC; pick a directory elsewhere")
    if args.producer == "megatron":
        from . import import_megatron as meg

        kind, directory, files = meg.detect(src)
        if kind == "trace":
            source: Any = meg.TraceImport(directory, files, experts=args.experts, score_function=args.score_function,
                                          snapshot_every=args.snapshot_every, probe_tokens=args.probe_tokens,
                                          follow=args.follow, hidden=not args.no_hidden)
            records = "router trace"
        else:
            source = meg.TpeImport(directory, files, top_k=args.top_k, ep=args.ep, etp=args.etp, follow=args.follow)
            records = "tokens per expert"
        source.prepare()
        top_k = source.topk if kind == "trace" else source.top_k
        if kind == "trace" and args.top_k is not None and args.top_k != top_k:
            raise ContractError(f"--top-k {args.top_k}: the trace records top-{top_k}")
        imported = {"producer": "Megatron-Core", "records": records, "source": directory, "ranks": len(files),
                    "tokens": "not recorded"}
        domains = [f"rank {r}" for r in files]
        run, tokens = run_import(source, out, follow=args.follow, imported=imported, domains=domains,
                                 vocab=None, top_k=top_k)
    else:
        module = __import__(f"idamoe_torch.import_{args.producer}", fromlist=["make_source"])
        source, imported, domains, vocab, top_k = module.make_source(src, args)  # prepared
        run, tokens = run_import(source, out, follow=args.follow, imported=imported, domains=domains, vocab=vocab,
                                 top_k=top_k)
    print(f"{args.out}: {run.steps_written:,} steps, {run.snapshots_written} snapshots, {tokens:,} tokens, "
          f"{len(run.blocks)} MoE layers x {run.experts} experts, top-{run.top_k} "
          f"({imported['producer']} {imported['records']}){' — stopped' if args.follow else ''}")
    return 0
