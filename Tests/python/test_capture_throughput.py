"""Capture throughput at the size of a real model: a published MoE config (transformers' defaults for the
model type are its reference checkpoint's: OLMoE-1B-7B for `olmoe`) scaled down in depth only, random
weights, saved and captured by the command line on the CPU.

    OMP_NUM_THREADS=2 python Tests/python/test_capture_throughput.py --model-type olmoe --layers 1 \\
        --tokens 512 2048 --threads 2

prints, for each token count, the model's size, tokens per second through it and the capture process's
peak memory (the same for both counts but for the probe: memory does not grow with the text). The test below
holds the scaling to depth alone (every other setting is the published config's) and runs the command
end to end on a narrowed model, so the benchmark's command keeps working."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional

import torch
import transformers

HERE = Path(__file__).resolve().parent
TEXT = (HERE.parent.parent / "README.md")


def scaled_config(model_type: str, layers: int, **narrow: Any) -> Any:
    """transformers' config of `model_type` with `layers` blocks (and `narrow` settings, tests only)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return CONFIG_MAPPING[model_type](num_hidden_layers=layers, tie_word_embeddings=False, **narrow)


#: Runs the capture command in a child process and prints its own peak resident memory (KiB) last.
CHILD = ("import resource, sys; from idamoe_torch.__main__ import main; code = main(sys.argv[1:]); "
         "print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)")


def main(argv: Optional[List[str]] = None, **narrow: Any) -> List[str]:
    """Builds the scaled model, then captures the first N tokens of the README (repeated) for each N of
    `--tokens` in a child process: one line each with tokens/s through the model and the child's peak
    memory (which must not grow with N beyond the probe, N x D x 4 bytes per MoE block)."""
    import os
    import subprocess

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model-type", default="olmoe")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--tokens", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = scaled_config(args.model_type, args.layers, **narrow)
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    parameters = sum(p.numel() for p in model.parameters())
    lines = []
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
           "PYTHONPATH": os.pathsep.join([str(HERE.parent.parent / "python"), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as root:
        model.save_pretrained(str(Path(root) / "model"))
        del model
        (Path(root) / "text.txt").write_text(TEXT.read_text() * 64)
        for tokens in args.tokens:
            command = ["capture", "--model", str(Path(root) / "model"), "--text", str(Path(root) / "text.txt"),
                       "--out", str(Path(root) / f"run-{tokens}"), "--max-tokens", str(tokens), "--window",
                       str(args.window), "--batch", str(args.batch), "--dtype", args.dtype, "--threads", str(args.threads)]
            started = time.monotonic()
            child = subprocess.run([sys.executable, "-c", CHILD, *command], capture_output=True, text=True, env=env)
            wall = time.monotonic() - started
            if child.returncode != 0:
                raise SystemExit(f"capture failed: {child.stderr.strip().splitlines()[-1:]}")
            rate = next(l for l in child.stdout.splitlines() if l.startswith("wrote ")).split(", ")[1].split(" ")[0]
            peak = int(child.stdout.splitlines()[-1].split()[1]) / 1024 / 1024
            lines.append(f"{args.model_type} at {args.layers} of its published depth, {parameters / 1e6:.0f}M parameters, "
                         f"{args.dtype}, {args.threads} threads: {tokens} tokens at {rate} tokens/s through the model, "
                         f"{wall:.1f} s in all (load, forward, checks, write), peak memory {peak:.2f} GiB")
            print(lines[-1], flush=True)
    return lines


def test_the_scaling_is_depth_alone() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    published = CONFIG_MAPPING["olmoe"]().to_dict()
    scaled = scaled_config("olmoe", 1).to_dict()
    differ = {k for k in set(published) | set(scaled) if published.get(k) != scaled.get(k)}
    assert differ <= {"num_hidden_layers", "tie_word_embeddings"}, differ
    assert published["hidden_size"] == 2048 and published["num_experts"] == 64 and published["num_experts_per_tok"] == 8


def test_the_benchmark_command_runs_end_to_end(capsys) -> None:
    lines = main(["--layers", "1", "--tokens", "32", "64", "--window", "32", "--threads", "1"], hidden_size=32,
                 intermediate_size=32, num_attention_heads=2, num_key_value_heads=2, vocab_size=300)
    assert len(lines) == 2 and all(l.startswith("olmoe at 1 of its published depth") for l in lines), lines
    assert " 64 tokens at " in lines[1] and "tokens/s through the model" in lines[1], lines


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "python"))
    main()
