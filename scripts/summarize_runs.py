#!/usr/bin/env python3
"""Summarises run directories (docs/format.md) as the table in docs/results.md.

For each run: final validation bits per byte, CVmean and mean routing entropy averaged over the last
10% of steps, dead experts (experts with under 10% of their fair share of the load over those steps)
and dead components (IDA) at the end, and training speed.
"""
import json
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
    }


def main():
    rows = [summarize(p) for p in sys.argv[1:]]
    print("| run | steps | val bpb | CVmean (last 10%) | entropy bits | dead experts | dead components | died/reset/revived |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['run']} | {r['steps']} | {r['val_bpb']:.3f} | {r['cv_mean']:.3f} | {r['entropy']:.2f} | "
              f"{r['dead_experts']} | {r['dead_components']} | {r['died/reset/revived']} |")
    print()
    for r in rows:
        print(f"per-layer CV, last 10%: {r['run']}: " + " / ".join(f"{v:.2f}" for v in r["layer_cv"]))


if __name__ == "__main__":
    main()
