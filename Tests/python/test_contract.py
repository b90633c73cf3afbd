"""One schema for both languages (docs/schema/): run.json and every events.jsonl line written by the Swift
trainer, by `RunWriter` and by `capture` validate against docs/schema/run.schema.json and
events.schema.json (which list every key a producer may write); the schema of run.json in docs is the
one the Swift code generates (`idamoe schema run`); and the Python package's defaults are the settings
table's (`idamoe schema settings`), with the contract's constants in one place each.
"""
from __future__ import annotations

import inspect
import json
import re
import subprocess
from pathlib import Path
from typing import Dict, List

import jsonschema
import pytest
import torch

from torch_support import REPO, idamoe_binary, run_idamoe

SCHEMA = REPO / "docs" / "schema"
TINY = ["--width", "16", "--heads", "2", "--blocks", "2", "--context", "16", "--experts", "4", "--top-k", "2",
        "--expert-hidden", "16", "--components", "2", "--latent", "4", "--router-hidden", "8", "--batch", "2",
        "--threads", "1", "--quiet"]


def validators():
    run = json.loads((SCHEMA / "run.schema.json").read_text())
    events = json.loads((SCHEMA / "events.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(run)
    jsonschema.Draft202012Validator.check_schema(events)
    return jsonschema.Draft202012Validator(run), jsonschema.Draft202012Validator(events)


def check_run(run_dir: Path) -> Dict[str, int]:
    """Validates run.json and every line of events.jsonl; returns the count of lines of each kind."""
    run_validator, event_validator = validators()
    manifest = json.loads((run_dir / "run.json").read_text())
    errors = [e.message for e in run_validator.iter_errors(manifest)]
    assert not errors, f"{run_dir}/run.json: {errors[:5]}"
    kinds: Dict[str, int] = {}
    for n, line in enumerate((run_dir / "events.jsonl").read_text().splitlines(), 1):
        event = json.loads(line)
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in event_validator.iter_errors(event)]
        assert not errors, f"events.jsonl line {n} ({event.get('kind')}): {errors[:5]}"
        kinds[event["kind"]] = kinds.get(event["kind"], 0) + 1
    return kinds


def corpus(tmp: Path) -> Path:
    folder = tmp / "corpus"
    folder.mkdir()
    for d in range(2):
        (folder / f"d{d}").write_text("%\n".join(f"doc {i} of domain {d}: the quick brown fox {i * d}\n" for i in range(30)))
    return folder


def test_the_schema_of_run_json_in_docs_is_the_codes() -> None:
    generated = subprocess.run([idamoe_binary(), "schema", "run"], capture_output=True, text=True, check=True).stdout
    assert (SCHEMA / "run.schema.json").read_text() == generated, "regenerate with: idamoe schema run > docs/schema/run.schema.json"


@pytest.mark.parametrize("router", ["ida", "softmax", "sigmoid-bias"])
def test_a_run_of_the_swift_trainer_validates(tmp_path: Path, router: str) -> None:
    run = tmp_path / "run"
    out = run_idamoe("train", "--run-dir", str(run), "--corpus", str(corpus(tmp_path)), "--steps", "6", "--snapshot-every", "3",
                     "--eval-every", "3", "--router", router, "--react-every", "2", *TINY)
    assert out.returncode == 0
    # A resume adds its own kind of line.
    resumed = run_idamoe("train", "--resume", str(run), "--steps", "8", "--quiet")
    assert resumed.returncode == 0
    kinds = check_run(run)
    assert {"start", "step", "eval", "snapshot", "resume", "done"} <= set(kinds), kinds


def test_a_run_of_runwriter_validates(tmp_path: Path) -> None:
    """IDA routers with reactivation forced (tau above 1: every component dies), a held-out eval and
    snapshots; and sigmoid-bias routers."""
    from idamoe_torch import IDARouter, ReactivationConfig, RunWriter, SigmoidBiasRouter

    torch.manual_seed(3)
    d = 8
    for name, routers in (("ida", {0: IDARouter(d, experts=4, components_per_expert=2, latent_dim=3, hidden=(6,),
                                                reactivation=ReactivationConfig(every=1, tau=1.5))}),
                          ("bias", {1: SigmoidBiasRouter(d, experts=4, top_k=2)})):
        model = torch.nn.ModuleDict({str(i): r for i, r in routers.items()})

        def forward(x: torch.Tensor) -> None:
            for r in routers.values():
                out = r(x)
                if out.loss.requires_grad:
                    out.loss.backward()

        run = tmp_path / name
        writer = RunWriter(str(run), model, probe_tokens=torch.arange(12), domain_names=["a", "b"],
                           probe_domains=torch.tensor([0] * 6 + [1] * 6),
                           probe_forward=lambda t: forward(torch.randn(t.numel(), d)))
        for step in (1, 2, 3):
            forward(torch.randn(24, d))
            writer.step(step, 2.0 - 0.1 * step, lr=1e-3, grad_norm=0.5)
        with writer.heldout() as loads:
            forward(torch.randn(10, d))
        writer.eval(3, 3.0, {"a": 2.9, "b": 3.1}, heldout=loads)
        writer.snapshot(3)
        writer.finish(3)
        writer.close()
        kinds = check_run(run)
        assert {"start", "step", "eval", "snapshot", "done"} <= set(kinds), kinds
        if name == "ida":
            assert kinds.get("reactivation", 0) > 0, kinds


def test_a_capture_validates(tmp_path: Path) -> None:
    import transformers

    from idamoe_torch.capture import capture

    config = transformers.MixtralConfig(vocab_size=300, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, max_position_embeddings=64, intermediate_size=24,
                                        num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False)
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(config).eval().save_pretrained(str(tmp_path / "model"))
    capture(str(tmp_path / "model"), "Routers send each token to two experts. " * 4, str(tmp_path / "run"), window=32)
    kinds = check_run(tmp_path / "run")
    assert {"start", "snapshot", "done"} <= set(kinds), kinds


def test_python_defaults_are_the_settings_tables() -> None:
    """What a PyTorch run writes into run.json by default is what `idamoe train` means by default."""
    from idamoe_torch import IDARouter, ReactivationConfig, SigmoidBiasRouter, SoftmaxRouter
    from idamoe_torch import contract

    rows = json.loads(subprocess.run([idamoe_binary(), "schema", "settings"], capture_output=True, text=True,
                                     check=True).stdout)
    table = {(r["section"], r["key"]): r["default"] for r in rows}

    def defaults(cls) -> Dict[str, object]:
        return {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items()
                if v.default is not inspect.Parameter.empty}

    ida, softmax, bias = defaults(IDARouter), defaults(SoftmaxRouter), defaults(SigmoidBiasRouter)
    react = ReactivationConfig()
    pairs = [
        (ida["experts"], ("model", "experts")), (ida["components_per_expert"], ("model", "componentsPerExpert")),
        (ida["latent_dim"], ("model", "latentDim")), (ida["top_k"], ("model", "topK")),
        (list(ida["hidden"]), ("model", "routerHidden")), (ida["activation"], ("model", "routerActivation")),
        (ida["expert_score"], ("model", "expertScore")), (ida["input_norm"], ("model", "inputNorm")),
        (ida["latent_norm"], ("model", "latentNorm")), (ida["log_var_min"], ("model", "logVarMin")),
        (ida["log_var_max"], ("model", "logVarMax")), (ida["gate_temperature"], ("model", "gateTemperature")),
        (ida["prior_mass"], ("model", "priorMass")),
        (ida["reconstruction_weight"], ("training", "reconstructionWeight")),
        (ida["reactivation_weight"], ("training", "reactivationWeight")), (ida["nll_to_encoder"], ("training", "nllToEncoder")),
        (react.mode, ("training", "reactivation")), (react.every, ("training", "reactEvery")),
        (react.steps, ("training", "reactSteps")), (react.tau, ("training", "reactTau")),
        (react.reseed, ("training", "reseed")),
        (softmax["experts"], ("model", "experts")), (softmax["top_k"], ("model", "topK")),
        (softmax["aux_loss"], ("training", "auxLoss")), (softmax["z_loss"], ("training", "zLoss")),
        (bias["bias_rate"], ("training", "biasRate")),
        (contract.GATE_TEMPERATURE_NEW_RUNS, ("model", "gateTemperature")), (contract.TAU, ("training", "reactTau")),
    ]
    wrong: List[str] = [f"{key}: Python {value!r}, table {table[key]!r}" for value, key in pairs if value != table[key]]
    assert not wrong, wrong


def test_python_contract_constants_are_the_schemas(tmp_path: Path) -> None:
    """contract.py's constants are what the Swift settings table says: the gate temperature's range in
    docs/schema/run.schema.json, what its absence means and the default of new runs in `idamoe schema
    settings`; and the refusal wording is the Swift flag's."""
    from idamoe_torch import contract

    run_schema = json.loads((SCHEMA / "run.schema.json").read_text())
    gate = run_schema["properties"]["model"]["properties"]["gateTemperature"]
    assert (gate["exclusiveMinimum"], gate["maximum"]) == (0, contract.GATE_TEMPERATURE_MAX)
    rows = json.loads(subprocess.run([idamoe_binary(), "schema", "settings"], capture_output=True, text=True,
                                     check=True).stdout)
    row = next(r for r in rows if (r["section"], r["key"]) == ("model", "gateTemperature"))
    assert row["range"] == {"exclusiveMinimum": 0, "maximum": contract.GATE_TEMPERATURE_MAX}
    assert row["absent"] == contract.GATE_TEMPERATURE_ABSENT
    assert row["default"] == contract.GATE_TEMPERATURE_NEW_RUNS
    tau = next(r for r in rows if (r["section"], r["key"]) == ("training", "reactTau"))
    assert tau["default"] == contract.TAU
    # Both ends as the range says: 0 out, the maximum in, just past it out, with the words Swift uses.
    assert contract.check_gate_temperature(contract.GATE_TEMPERATURE_MAX) == contract.GATE_TEMPERATURE_MAX
    for bad in (0.0, contract.GATE_TEMPERATURE_MAX * 1.001):
        with pytest.raises(ValueError, match=re.escape(f"must be in {contract.GATE_TEMPERATURE_RANGE}")):
            contract.check_gate_temperature(bad)
    swift = subprocess.run([idamoe_binary(), "train", "--run-dir", str(tmp_path / "run"), "--gate-temperature", "0"],
                           capture_output=True, text=True)
    assert swift.returncode == 64 and f"--gate-temperature must be in {contract.GATE_TEMPERATURE_RANGE}" in swift.stderr


def test_the_reference_reads_its_limits_from_the_schema() -> None:
    """Tests/python/idamoe_ref.py takes the gate temperature's maximum from docs/schema, not a copy."""
    import idamoe_ref
    from idamoe_torch import contract

    assert idamoe_ref.MAX_GATE_TEMPERATURE == contract.GATE_TEMPERATURE_MAX
    assert "1000" not in inspect.getsource(idamoe_ref).split("MAX_GATE_TEMPERATURE =", 1)[1].splitlines()[0]
