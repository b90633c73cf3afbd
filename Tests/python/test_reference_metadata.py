"""The reference refuses what it does not implement (docs/format.md, "Checkpoints"): each bad gate
temperature, gate option or router tensor is a one-line RefError naming the key or tensor, and
`idamoe route` refuses the same file naming the same key ($IDAMOE_BIN). Keys the
contract gives one router kind are refused on the others, and unknown `idamoe.*` keys are refused
by the reference rather than ignored."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import idamoe_ref as ref  # noqa: E402
import make_bench_files as mbf  # noqa: E402

from binary_support import idamoe_binary  # noqa: E402

D = 16

# name -> (router, top_k, metadata changes (None removes), tensor removed or None, what the error names)
BOTH_REFUSE = {
    "ida_gate_scale": ("ida", 2, {"idamoe.gate_scale": "2"}, None, "idamoe.gate_scale"),
    "ida_gate_normalize": ("ida", 2, {"idamoe.gate_normalize": "false"}, None, "idamoe.gate_normalize"),
    "ida_expert_groups": ("ida", 2, {"idamoe.expert_groups": "2"}, None, "idamoe.expert_groups"),
    "ida_group_top_k": ("ida", 2, {"idamoe.group_top_k": "1"}, None, "idamoe.group_top_k"),
    "temperature_0": ("ida", 2, {"idamoe.gate_temperature": "0"}, None, "idamoe.gate_temperature"),
    "temperature_negative": ("ida", 2, {"idamoe.gate_temperature": "-4"}, None, "idamoe.gate_temperature"),
    "temperature_1001": ("ida", 2, {"idamoe.gate_temperature": "1001"}, None, "idamoe.gate_temperature"),
    "temperature_nan": ("ida", 2, {"idamoe.gate_temperature": "nan"}, None, "idamoe.gate_temperature"),
    "temperature_word": ("ida", 2, {"idamoe.gate_temperature": "warm"}, None, "idamoe.gate_temperature"),
    "normalize_yes": ("softmax", 2, {"idamoe.gate_normalize": "yes"}, None, "idamoe.gate_normalize"),
    "scale_0": ("softmax", 2, {"idamoe.gate_scale": "0"}, None, "idamoe.gate_scale"),
    "scale_negative": ("sigmoid-bias", 2, {"idamoe.gate_scale": "-2.5"}, None, "idamoe.gate_scale"),
    "scale_inf": ("softmax", 2, {"idamoe.gate_scale": "inf"}, None, "idamoe.gate_scale"),
    "scale_float32_overflow": ("softmax", 2, {"idamoe.gate_scale": "1e39"}, None, "idamoe.gate_scale"),
    "groups_not_dividing": ("softmax", 2, {"idamoe.expert_groups": "3"}, None, "idamoe.expert_groups"),
    "groups_above_experts": ("softmax", 2, {"idamoe.expert_groups": "16"}, None, "idamoe.expert_groups"),
    "groups_word": ("softmax", 2, {"idamoe.expert_groups": "four"}, None, "idamoe.expert_groups"),
    "kept_above_groups": ("sigmoid-bias", 2, {"idamoe.expert_groups": "4", "idamoe.group_top_k": "5"}, None,
                          "idamoe.group_top_k"),
    "kept_0": ("softmax", 2, {"idamoe.expert_groups": "4", "idamoe.group_top_k": "0"}, None, "idamoe.group_top_k"),
    "kept_fewer_than_top_k": ("softmax", 3, {"idamoe.expert_groups": "4", "idamoe.group_top_k": "1"}, None,
                              "idamoe.group_top_k"),
    "missing_expert_bias": ("sigmoid-bias", 2, {}, "layers.0.router.expert_bias", "layers.0.router.expert_bias"),
    "layer_experts_count": ("softmax", 2, {"idamoe.layer_experts": "8,8"}, None, "idamoe.layer_experts"),
    "softmax_temperature": ("softmax", 2, {"idamoe.gate_temperature": "4"}, None, "idamoe.gate_temperature"),
    "sigmoid_activation": ("sigmoid-bias", 2, {"idamoe.activation": "gelu"}, None, "idamoe.activation"),
    "softmax_latent_norm": ("softmax", 2, {"idamoe.latent_norm": "rms"}, None, "idamoe.latent_norm"),
    "prior_mass_bogus": ("ida", 2, {"idamoe.prior_mass": "bogus"}, None, "idamoe.prior_mass"),
    "softmax_prior_mass": ("softmax", 2, {"idamoe.prior_mass": "global"}, None, "idamoe.prior_mass"),
    "unknown_ida_key": ("ida", 2, {"idamoe.gate_noise": "0.1"}, None, "idamoe.gate_noise"),
    "unknown_gate_key": ("softmax", 2, {"idamoe.norm_topk_prob": "false"}, None, "idamoe.norm_topk_prob"),
}



def write(tmp_path, router, top_k, changes, drop):
    tensors, meta = mbf.make_checkpoint(D, p=4, experts=8, components=2, layers=(0,), hidden_enc=(8,), seed=3,
                                        router=router, top_k=top_k)
    for key, value in changes.items():
        meta[key] = value
    tensors.pop(drop, None)
    path = tmp_path / "checkpoint.safetensors"
    save_file(tensors, str(path), metadata=meta)
    probe_tensors, probe_meta = mbf.make_probe(20, D, [0])
    probe = tmp_path / "probe.safetensors"
    save_file(probe_tensors, str(probe), metadata=probe_meta)
    return str(path), str(probe)


def reference_refuses(path, names):
    with pytest.raises(ref.RefError) as err:
        ref.load_checkpoint(path)
    text = str(err.value)
    assert "\n" not in text and names in text and path in text, text


@pytest.mark.parametrize("case", list(BOTH_REFUSE))
def test_reference_and_idamoe_refuse(tmp_path, case):
    router, top_k, changes, drop, names = BOTH_REFUSE[case]
    path, probe = write(tmp_path, router, top_k, changes, drop)
    reference_refuses(path, names)
    proc = subprocess.run([idamoe_binary(), "route", "--checkpoint", path, "--probe", probe, "--jsonl"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and proc.stdout == "", f"exit {proc.returncode}; stdout {proc.stdout[:200]!r}"
    assert len(lines) == 1 and names in lines[0], f"idamoe's stderr does not name {names}: {proc.stderr!r}"


def test_reference_reads_every_documented_gate_key(tmp_path):
    """Every gate key at a value of its range is read, not refused; keys outside the idamoe namespace
    and the informational ones are ignored."""
    changes = {"idamoe.gate_normalize": " false", "idamoe.gate_scale": "2.5", "idamoe.expert_groups": "4",
               "idamoe.group_top_k": "2", "idamoe.producer": "a test", "format": "pt"}
    path, _ = write(tmp_path, "sigmoid-bias", 4, changes, None)
    r = ref.load_checkpoint(path).routers[0]
    got = (r.kind, r.gate_normalize, r.gate_scale, r.expert_groups, r.group_top_k)
    assert got == ("sigmoid-bias", False, 2.5, 4, 2)
    assert r.expert_bias.shape == (8,) and r.expert_bias.any()
    with pytest.raises(ref.RefError, match="--top-k 5"):
        r.with_top_k(5)  # the two kept groups hold 4 experts
    path, _ = write(tmp_path, "ida", 2, {"idamoe.gate_temperature": "1000"}, None)
    assert ref.load_checkpoint(path).routers[0].gate_temperature == 1000.0
