"""Capture throughput at the size of a real model: a published MoE config (transformers' defaults for the
model type are its reference checkpoint's: OLMoE-1B-7B for `olmoe`) scaled down in depth only, random
weights, saved and captured by the command line on the CPU.

    OMP_NUM_THREADS=2 python Tests/python/test_capture_throughput.py --model-type olmoe --layers 1 \\
        --tokens 2048 --threads 2

prints the model's size, tokens per second through it and the process's peak memory. The test below
holds the scaling to depth alone (every other setting is the published config's) and runs the command
end to end on a narrowed model, so the benchmark's command keeps working."""
from __future__ import annotations

import argparse
import resource
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


def main(argv: Optional[List[str]] = None, **narrow: Any) -> str:
    from idamoe_torch.__main__ import main as cli

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-type", default="olmoe")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=2048)
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
    text = (TEXT.read_text() * 64)
    with tempfile.TemporaryDirectory() as root:
        model.save_pretrained(str(Path(root) / "model"))
        del model
        (Path(root) / "text.txt").write_text(text)
        started = time.monotonic()
        code = cli(["capture", "--model", str(Path(root) / "model"), "--text", str(Path(root) / "text.txt"),
                    "--out", str(Path(root) / "run"), "--max-tokens", str(args.tokens), "--window", str(args.window),
                    "--batch", str(args.batch), "--dtype", args.dtype, "--threads", str(args.threads)])
        wall = time.monotonic() - started
    if code != 0:
        raise SystemExit(code)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    line = (f"{args.model_type} at {args.layers} of its published depth, {parameters / 1e6:.0f}M parameters, "
            f"{args.dtype}, {args.threads} threads: {args.tokens} tokens captured in {wall:.1f} s (load, forward, "
            f"checks, write); peak memory {peak:.2f} GiB")
    print(line)
    return line


def test_the_scaling_is_depth_alone() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    published = CONFIG_MAPPING["olmoe"]().to_dict()
    scaled = scaled_config("olmoe", 1).to_dict()
    differ = {k for k in set(published) | set(scaled) if published.get(k) != scaled.get(k)}
    assert differ <= {"num_hidden_layers", "tie_word_embeddings"}, differ
    assert published["hidden_size"] == 2048 and published["num_experts"] == 64 and published["num_experts_per_tok"] == 8


def test_the_benchmark_command_runs_end_to_end(capsys) -> None:
    line = main(["--layers", "1", "--tokens", "64", "--window", "32", "--threads", "1"], hidden_size=32,
                intermediate_size=32, num_attention_heads=2, num_key_value_heads=2, vocab_size=300)
    out = capsys.readouterr().out
    assert "same experts as the model on 64 of 64 tokens" in out and "tokens/s through the model" in out, out
    assert line.startswith("olmoe at 1 of its published depth") and "64 tokens captured" in line


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent.parent / "python"))
    main()
