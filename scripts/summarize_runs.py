#!/usr/bin/env python3
"""Summarises run directories (docs/format.md) as the table in docs/results.md.

For each run: final validation bits per byte; two CVs, each named: the held-out CVmean (the CV of
the top-1, top-k and gate-weighted expert load over the validation tokens at the last evaluation,
averaged over MoE layers: the paper's measure) and the training-batch CV (top-k load of each training
batch, averaged over the last 10% of steps); mean routing entropy over the last 10% of steps; dead
experts (under 10% of their fair share of the top-k load over those steps) and dead components
(IDA) at the end; died / reset / revived events; training speed; per layer, the training-batch CV
and (IDA) the mixture's NLL per token over the last 10% of steps.

With --by-setting, runs named SETTING and SETTING-seedN are also grouped: mean and spread (min-max)
over seeds of the held-out CVmean and validation bits per byte, and a CSV of held-out CVmean (top-k)
against step, one column per run (--curves FILE).
"""
import json
import re
import sys


def effective_events(path):
    """The run's events as docs/format.md defines them: complete JSON-object lines, where a `resume`
    event's later events replace those of steps after its `from_step`."""
    events = []
    with open(path + "/events.jsonl") as f:
        for line in f:
            if not line.endswith("\n"):
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if not isinstance(e, dict) or not all(k in e for k in ("v", "step", "time", "kind")):
                continue
            if e["kind"] == "resume":
                events = [x for x in events if x["step"] <= e.get("from_step", 0)]
                continue
            events.append(e)
    return events


def summarize(path):
    steps, evals, react = [], [], {"died": 0, "reset": 0, "pulled": 0, "revived": 0}
    for e in effective_events(path):
        if e["kind"] == "step":
            steps.append(e)
        elif e["kind"] == "eval":
            evals.append(e)
        elif e["kind"] == "reactivation":
            react[e["event"]] = react.get(e["event"], 0) + 1
    tail = steps[-max(1, len(steps) // 10):]
    layers = len(tail[-1]["layers"])
    experts = len(tail[-1]["layers"][0]["load"])
    cv = sum(e["cv_mean"] for e in tail) / len(tail)
    entropy = sum(sum(l["entropy"] for l in e["layers"]) / layers for e in tail) / len(tail)
    dead_experts = 0
    for i in range(layers):
        load = [sum(e["layers"][i]["load"][x] for e in tail) / len(tail) for x in range(experts)]
        dead_experts += sum(1 for v in load if v < 0.1 / experts)
    with open(path + "/run.json") as f:
        model = json.load(f)["model"]
    components = model["experts"] * model["componentsPerExpert"]
    dead_components = sum(l.get("dead", 0) for l in tail[-1]["layers"]) if "dead" in tail[-1]["layers"][0] else None
    speed = sum(e["tokens_per_s"] for e in tail) / len(tail)
    layer_cv = [sum(e["layers"][i]["cv"] for e in tail) / len(tail) for i in range(layers)]
    # IDA: the mixture's NLL per token (nats) over the last 10% of steps, per layer.
    layer_nll = [sum(e["layers"][i]["nll"] for e in tail) / len(tail) for i in range(layers)] \
        if "nll" in tail[-1]["layers"][0] else None
    return {
        "run": path.rstrip("/").split("/")[-1],
        "steps": steps[-1]["step"],
        "val_bpb": evals[-1]["val_bpb"] if evals else None,
        "cv_mean": cv,
        "entropy": entropy,
        "dead_experts": f"{dead_experts}/{layers * experts}",
        "dead_components": "-" if dead_components is None else f"{dead_components}/{layers * components}",
        # Interventions (reset or pulled) are counted apart from revivals (usage back above tau/K).
        "died/reset/revived": f"{react['died']}/{react['reset'] + react['pulled']}/{react['revived']}",
        "tok/s": speed,
        "layer_cv": layer_cv,
        "layer_nll": layer_nll,
        "heldout": heldout(evals),
        "heldout_max_vio": heldout_max_vio(evals),
        # Revivals over interventions: the share of resets (or pulls) that brought a component back.
        "revived_per_reset": react["revived"] / (react["reset"] + react["pulled"]) if react["reset"] + react["pulled"] else None,
        "curve": [(e["step"], e["heldout_cv_mean_topk"]) for e in evals if "heldout_cv_mean_topk" in e],
    }


def heldout(evals):
    """(top-1, top-k, gate) held-out CVmean of the last evaluation that has them, or None."""
    for e in reversed(evals):
        if "heldout_cv_mean_topk" in e:
            return e["heldout_cv_mean_top1"], e["heldout_cv_mean_topk"], e["heldout_cv_mean_gate"]
    return None


def heldout_max_vio(evals):
    """(top-1, top-k, gate) held-out MaxVio averaged over layers, of the last evaluation that has them."""
    for e in reversed(evals):
        if "heldout_max_vio_mean_topk" in e:
            return e["heldout_max_vio_mean_top1"], e["heldout_max_vio_mean_topk"], e["heldout_max_vio_mean_gate"]
    return None


def setting_of(run):
    return re.sub(r"-seed\d+$", "", run)


def by_setting(rows):
    """Mean and min-max over the seeds of each setting."""
    groups = {}
    for r in rows:
        groups.setdefault(setting_of(r["run"]), []).append(r)
    print("| setting | seeds | held-out CVmean top-1 | top-k | gate-weighted | held-out MaxVio top-1 / top-k | val bpb | "
          "training-batch CV (last 10%) | revived per reset |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rs in groups.items():
        def stat(values, digits=3):
            values = [v for v in values if v is not None]
            if not values:
                return "-"
            mean = sum(values) / len(values)
            if len(values) == 1:
                return f"{mean:.{digits}f}"
            return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"
        h = [r["heldout"] for r in rs]
        mv = [r["heldout_max_vio"] for r in rs]
        mv_text = " / ".join(stat([x[i] if x else None for x in mv], 2) for i in (0, 1))
        print(f"| {name} | {len(rs)} | {stat([x[0] if x else None for x in h])} | {stat([x[1] if x else None for x in h])} | "
              f"{stat([x[2] if x else None for x in h])} | {mv_text} | {stat([r['val_bpb'] for r in rs])} | "
              f"{stat([r['cv_mean'] for r in rs])} | {stat([r['revived_per_reset'] for r in rs], 2)} |")


def write_curves(rows, path):
    steps = sorted({s for r in rows for s, _ in r["curve"]})
    with open(path, "w") as f:
        f.write("step," + ",".join(r["run"] for r in rows) + "\n")
        for step in steps:
            values = [dict(r["curve"]).get(step) for r in rows]
            f.write(f"{step}," + ",".join("" if v is None else f"{v:.4f}" for v in values) + "\n")


def main():
    args = sys.argv[1:]
    grouped = "--by-setting" in args
    curves = None
    if "--curves" in args:
        i = args.index("--curves")
        curves = args[i + 1]
        del args[i:i + 2]
    rows = [summarize(p) for p in args if p != "--by-setting"]
    print("| run | steps | val bpb | held-out CVmean top-1 / top-k / gate | training-batch CV (last 10%) | entropy bits | "
          "dead experts | dead components | died/reset/revived |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        h = "/".join(f"{v:.3f}" for v in r["heldout"]) if r["heldout"] else "-"
        print(f"| {r['run']} | {r['steps']} | {r['val_bpb']:.3f} | {h} | {r['cv_mean']:.3f} | {r['entropy']:.2f} | "
              f"{r['dead_experts']} | {r['dead_components']} | {r['died/reset/revived']} |")
    if grouped:
        print()
        by_setting(rows)
    if curves:
        write_curves(rows, curves)
    print()
    for r in rows:
        print(f"per-layer CV, last 10%: {r['run']}: " + " / ".join(f"{v:.2f}" for v in r["layer_cv"]))
    for r in rows:
        if r["layer_nll"] is not None:
            print(f"per-layer mixture NLL (nats per token), last 10%: {r['run']}: "
                  + " / ".join(f"{v:.1f}" for v in r["layer_nll"]))


if __name__ == "__main__":
    main()
