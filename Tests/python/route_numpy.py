#!/usr/bin/env python3
"""numpy peer of `idamoe route`: the same output, computed with numpy/OpenBLAS (benchmark baseline).

    python3 Tests/python/route_numpy.py --checkpoint C --probe P [--layer I] [--top-k K]
        [--jsonl] [--posterior] [--threads T] [--block-size B]

With --jsonl: one JSON line per token and layer, token-major, layer-minor:
    {"token": n, "layer": i, "experts": [..], "weights": [..], "log_density": x, "entropy_bits": x}
plus "posterior": [K values] (softmax routers: E probabilities) with --posterior. Floats are printed
as Python's repr (what json.dumps writes); non-finite values are written as null.
Without --jsonl: a per-layer table of CV, mean entropy (bits), NLL, dead components and expert load.

--threads sets OPENBLAS_NUM_THREADS and OMP_NUM_THREADS before numpy is imported. Errors are one
line on stderr ("Error: ...") and exit status 1.
"""
import argparse
import os
import sys


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Stream probe tokens through a checkpoint's routers (numpy).")
    ap.add_argument("--checkpoint", required=True, help="checkpoint (.safetensors) holding the routers")
    ap.add_argument("--probe", required=True, help="probe (.safetensors) with tokens and hidden states")
    ap.add_argument("--layer", type=int, help="route only this MoE layer (transformer block index)")
    ap.add_argument("--top-k", type=int, help="experts per token (default: the checkpoint's)")
    ap.add_argument("--jsonl", action="store_true", help="one JSON line per token and layer")
    ap.add_argument("--posterior", action="store_true", help="with --jsonl, add the full posterior")
    ap.add_argument("--threads", type=int, help="BLAS threads (default: the library's)")
    ap.add_argument("--block-size", type=int, default=4096, help="tokens routed per block")
    args = ap.parse_args(argv)
    if args.posterior and not args.jsonl:
        ap.error("--posterior needs --jsonl")
    if args.block_size < 1:
        ap.error("--block-size must be at least 1")
    if args.threads is not None and args.threads < 1:
        ap.error("--threads must be at least 1")
    return args


def _sanitise(values):
    """Nested lists of floats with non-finite values replaced by None (written as null)."""
    import math
    if isinstance(values, list):
        return [_sanitise(v) for v in values]
    if isinstance(values, float) and not math.isfinite(values):
        return None
    return values


def block_lines(start, layer, res, posterior):
    """The JSON lines of one layer over one block, as a list of strings (each ending in a newline)."""
    import numpy as np
    experts = res["experts"].tolist()
    weights = res["weights"].tolist()
    entropy = res["entropy_bits"].tolist()
    dens = res["log_density"]
    post = res["posterior"].tolist() if posterior else None
    arrays = [res["weights"], res["entropy_bits"]] + ([dens] if dens is not None else []) \
        + ([res["posterior"]] if posterior else [])
    tokens = range(start, start + len(experts))
    if not all(np.isfinite(a).all() for a in arrays):
        return _slow_lines(tokens, layer, experts, weights, dens, entropy, post)
    head = '{"token": '
    mid = f', "layer": {layer}, "experts": '
    if dens is None:
        if post is None:
            return [f'{head}{n}{mid}{e}, "weights": {w}, "log_density": null, "entropy_bits": {h!r}}}\n'
                    for n, e, w, h in zip(tokens, experts, weights, entropy)]
        return [f'{head}{n}{mid}{e}, "weights": {w}, "log_density": null, "entropy_bits": {h!r}, '
                f'"posterior": {q}}}\n' for n, e, w, h, q in zip(tokens, experts, weights, entropy, post)]
    dens = dens.tolist()
    if post is None:
        return [f'{head}{n}{mid}{e}, "weights": {w}, "log_density": {d!r}, "entropy_bits": {h!r}}}\n'
                for n, e, w, d, h in zip(tokens, experts, weights, dens, entropy)]
    return [f'{head}{n}{mid}{e}, "weights": {w}, "log_density": {d!r}, "entropy_bits": {h!r}, '
            f'"posterior": {q}}}\n' for n, e, w, d, h, q in zip(tokens, experts, weights, dens, entropy, post)]


def _slow_lines(tokens, layer, experts, weights, dens, entropy, post):
    import json
    dens = dens.tolist() if dens is not None else [None] * len(experts)
    out = []
    for r, n in enumerate(tokens):
        obj = {"token": n, "layer": layer, "experts": experts[r], "weights": _sanitise(weights[r]),
               "log_density": _sanitise(dens[r]), "entropy_bits": _sanitise(entropy[r])}
        if post is not None:
            obj["posterior"] = _sanitise(post[r])
        out.append(json.dumps(obj) + "\n")
    return out


def print_table(args, ck, probe, layers, metrics, out):
    step = f", step {ck.step}" if ck.step is not None else ""
    out.write(f"{args.checkpoint}: {ck.kind} router{step}; {args.probe}: {probe.count} tokens\n")
    e = ck.routers[layers[0]].experts if layers else 0
    fair = f"{100 / e:.1f}" if e else "-"
    out.write("CV of this probe's expert load: CV1 first choices, CVk all top-k assignments, CVg gate-weighted;\n")
    out.write("MaxVio (MV1, MVk, MVg) of the same loads: the largest expert's load over the mean, minus 1\n")
    out.write(f"layer   CV1   CVk   CVg   MV1   MVk   MVg  entropy        NLL     dead   load per expert (% of assignments, fair share {fair})\n")

    def max_vio(load):
        mean = sum(load) / len(load) if len(load) else 0.0
        return max(load) / mean - 1 if mean > 0 else 0.0

    for i in layers:
        m = metrics[i]
        nll = f"{m['nll']:10.3f}" if m["nll"] is not None else "         -"
        usage = m["component_usage"]
        dead = f"{m['dead_components']}/{len(usage)}" if m["dead_components"] is not None else "-"
        load = " ".join(f"{100 * v:5.1f}" for v in m["load"])
        vios = " ".join(f"{max_vio(m[key]):5.3f}" for key in ("load_top1", "load", "load_gate"))
        out.write(f"{i:5d} {m['cv_top1']:5.3f} {m['cv']:5.3f} {m['cv_gate']:5.3f} {vios} {m['mean_entropy_bits']:8.3f} "
                  f"{nll} {dead:>8}   {load}\n")
    if len(layers) > 1:
        import numpy as np

        def across(values):
            q = np.quantile(np.asarray(values, dtype=np.float64), [0.5, 0.9, 0.99, 1.0])
            return f"p50 {q[0]:.3f} p90 {q[1]:.3f} p99 {q[2]:.3f} max {q[3]:.3f}"
        out.write(f"across {len(layers)} layers: CVk {across([metrics[i]['cv'] for i in layers])}; "
                  f"MVk {across([max_vio(metrics[i]['load']) for i in layers])}\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import idamoe_ref as ref  # imports numpy: only now, after the thread variables are set

    try:
        ck = ref.load_checkpoint(args.checkpoint)
        probe = ref.load_probe(args.probe)
        layers = ref.check_layers(ck, probe, args.layer)
        if args.top_k is not None:
            for i in layers:
                ck.routers[i] = ck.routers[i].with_top_k(args.top_k)
        if ck.kind == "ida" and any(ck.routers[i].activation == "gelu" for i in layers):
            ref._erf_fn()  # import scipy's erf before the first block
        acc = {i: ref.MetricsAccumulator(ck.routers[i].experts, ck.routers[i].components) for i in layers}
        out = sys.stdout.buffer
        for start, stop, results in ref.iter_route(ck, probe, layers, None, args.block_size):
            if args.jsonl:
                per_layer = [block_lines(start, i, res, args.posterior) for i, res in zip(layers, results)]
                if len(per_layer) == 1:
                    text = "".join(per_layer[0])
                else:
                    text = "".join(line for group in zip(*per_layer) for line in group)
                out.write(text.encode("ascii"))
            else:
                for i, res in zip(layers, results):
                    acc[i].add(res)
        if not args.jsonl:
            metrics = {i: acc[i].finish(ck.routers[i].priors) for i in layers}
            import io
            text = io.StringIO()
            print_table(args, ck, probe, layers, metrics, text)
            out.write(text.getvalue().encode("utf-8"))
        out.flush()
    except ref.RefError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    except BrokenPipeError:
        try:
            sys.stdout = None
        finally:
            os._exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
