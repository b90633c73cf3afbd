"""Reference implementation (numpy) of idamoe routing, for tests and benchmarks.

This module follows the file contract of docs/format.md and the router math of the IDA-MoE
router literally, in plain numpy, so the Swift tool can be checked against it:

- `SafetensorsFile` reads safetensors files (memory-mapped; F64/F32/F16/BF16 and integer dtypes)
  without going through `safetensors.numpy`, which cannot read BF16 and loads whole files.
- `load_checkpoint(path)` parses `__metadata__` and builds one `Router` per MoE layer, discovering
  encoder/decoder Linear layers by name (`...encoder.0`, `...encoder.1`, ... up to the first gap).
- `route_block(router, h)` routes one block of hidden states; `route_layer(router, hidden)` routes
  any number of rows block by block (memory per block is linear in the block size). All three router
  kinds (ida, softmax, sigmoid-bias with its expert_bias), the IDA gate temperature and the gate
  options of linear gates (gate_normalize, gate_scale, expert_groups with group_top_k) follow
  docs/format.md, "Checkpoints"; an `idamoe.*` metadata key or value the reference does not implement
  is refused (RefError), never ignored.
- `layer_metrics(...)` / `MetricsAccumulator` give load, CV, mean entropy (bits), NLL and dead
  components, as `idamoe route` prints them.

The diagonal-GMM density is computed the way scikit-learn's GaussianMixture(covariance_type="diag")
does (`_estimate_log_gaussian_prob`): sum(mu^2 prec) - 2 z (mu prec)^T + z^2 prec^T, in float64,
after widening the float32 latents.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    "RefError", "SafetensorsFile", "Router", "Checkpoint", "Probe", "load_checkpoint", "load_probe",
    "activation", "encode", "decode", "router_input", "gmm_log_prob", "gmm_log_joint",
    "route_block", "route_layer", "iter_route", "layer_metrics", "MetricsAccumulator",
    "coefficient_of_variation", "entropy_bits", "DEFAULT_BLOCK", "check_layers",
    "reference_routes", "compare_route_lines", "tempered_weights", "group_limited_top_k", "ROUTER_KINDS",
]

DEFAULT_BLOCK = 4096
LOG_2PI = math.log(2.0 * math.pi)
RMS_EPS = 1e-6


class RefError(Exception):
    """A problem with an input file; the message is one line naming the file and tensor or key."""


# ----------------------------------------------------------------------------------------------
# safetensors reading

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # converted on read
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")


@dataclass
class TensorInfo:
    name: str
    dtype: str
    shape: Tuple[int, ...]
    begin: int
    end: int


class SafetensorsFile:
    """A memory-mapped safetensors file: `metadata`, `info(name)`, `array(name)`, `rows(name, a, b)`."""

    def __init__(self, path: str):
        self.path = path
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                head = f.read(8)
                if len(head) < 8:
                    raise RefError(f"{path}: not a safetensors file (shorter than 8 bytes)")
                (n,) = struct.unpack("<Q", head)
                if n > size - 8:
                    raise RefError(f"{path}: header length {n} exceeds the file size")
                header = json.loads(f.read(n).decode("utf-8"))
        except OSError as e:
            raise RefError(f"{path}: {e.strerror or e}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RefError(f"{path}: header is not valid JSON ({e})") from None
        self.metadata: Dict[str, str] = dict(header.pop("__metadata__", None) or {})
        self._start = 8 + n
        self._data = np.memmap(path, dtype=np.uint8, mode="r") if size > self._start else np.zeros(0, np.uint8)
        self.tensors: Dict[str, TensorInfo] = {}
        for name, t in header.items():
            dtype = t.get("dtype")
            if dtype not in _DTYPES:
                raise RefError(f"{path}: tensor {name} has unsupported dtype {dtype}")
            shape = tuple(int(s) for s in t["shape"])
            begin, end = (int(v) for v in t["data_offsets"])
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if end - begin != count * _DTYPES[dtype].itemsize or self._start + end > size:
                raise RefError(f"{path}: tensor {name} has inconsistent data offsets")
            self.tensors[name] = TensorInfo(name, dtype, shape, begin, end)

    def info(self, name: str) -> Optional[TensorInfo]:
        return self.tensors.get(name)

    def _raw(self, t: TensorInfo, first: int = 0, count: Optional[int] = None) -> np.ndarray:
        """Elements [first, first + count) of `t` in storage dtype (a view into the map)."""
        dt = _DTYPES[t.dtype]
        total = (t.end - t.begin) // dt.itemsize
        if count is None:
            count = total - first
        a = self._start + t.begin + first * dt.itemsize
        return self._data[a:a + count * dt.itemsize].view(dt)

    @staticmethod
    def _widen(raw: np.ndarray, dtype: str, out_dtype) -> np.ndarray:
        if dtype == "BF16":
            return (raw.astype(np.uint32) << 16).view(np.float32).astype(out_dtype, copy=False)
        return raw.astype(out_dtype)

    def array(self, name: str, dtype=None) -> np.ndarray:
        """The whole tensor as a fresh array (floats widened to `dtype`, default float32 or float64 for F64)."""
        t = self.tensors.get(name)
        if t is None:
            raise RefError(f"{self.path}: missing tensor {name}")
        raw = self._raw(t)
        if t.dtype in FLOAT_DTYPES:
            out = dtype or (np.float64 if t.dtype == "F64" else np.float32)
            return self._widen(raw, t.dtype, out).reshape(t.shape)
        return raw.astype(dtype or raw.dtype).reshape(t.shape)

    def rows(self, name: str, start: int, stop: int, dtype=np.float32) -> np.ndarray:
        """Rows [start, stop) of a 2-D float tensor, converted to `dtype`."""
        t = self.tensors[name]
        d = t.shape[1]
        raw = self._raw(t, start * d, (stop - start) * d)
        return self._widen(raw, t.dtype, dtype).reshape(stop - start, d)


# ----------------------------------------------------------------------------------------------
# checkpoints

ROUTER_KINDS = ("ida", "softmax", "sigmoid-bias")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "silu", "tanh")
# `idamoe.prior_mass`: the prior normalised over all K components, or within each expert's M (1/E each).
PRIOR_MASSES = ("global", "per-expert")



def _model_settings_schema() -> Dict[str, dict]:
    """The model settings of docs/schema/run.schema.json (what `idamoe schema run` generates from the Swift
    settings table), whose bounds are the reference's limits: read, never retyped."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "schema", "run.schema.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["properties"]["model"]["properties"]


_MODEL_SETTINGS = _model_settings_schema()
# docs/format.md, "Limits": the settings' bounds from the schema; the whole mixture and the block index are no
# settings.
MAX_EXPERTS = int(_MODEL_SETTINGS["experts"]["maximum"])
MAX_COMPONENTS_PER_EXPERT = int(_MODEL_SETTINGS["componentsPerExpert"]["maximum"])
MAX_LATENT = int(_MODEL_SETTINGS["latentDim"]["maximum"])
MAX_COMPONENTS, MAX_BLOCK = 65536, 4095
# The gate temperature's range (MIN_GATE_TEMPERATURE, MAX_GATE_TEMPERATURE].
MIN_GATE_TEMPERATURE = float(_MODEL_SETTINGS["gateTemperature"]["exclusiveMinimum"])
MAX_GATE_TEMPERATURE = float(_MODEL_SETTINGS["gateTemperature"]["maximum"])

# Every `__metadata__` key of the idamoe namespace this reference knows, by what it applies to. Any other
# `idamoe.*` key is refused: the reference would otherwise route as if it were absent. Keys outside the
# namespace belong to other producers and are ignored.
COMMON_KEYS = ("idamoe.format", "idamoe.router", "idamoe.moe_layers", "idamoe.experts", "idamoe.layer_experts",
               "idamoe.top_k")
IDA_KEYS = ("idamoe.components_per_expert", "idamoe.latent_dim", "idamoe.activation", "idamoe.expert_score",
            "idamoe.input_norm", "idamoe.latent_norm", "idamoe.log_var_min", "idamoe.log_var_max",
            "idamoe.gate_temperature", "idamoe.prior_mass")
GATE_KEYS = ("idamoe.gate_normalize", "idamoe.gate_scale", "idamoe.expert_groups", "idamoe.group_top_k",
             "idamoe.group_score", "idamoe.selection_bias_on")
# Keys that describe the file, not its routing: the training step, a snapshot's model configuration and
# vocabulary, the writer (docs/format.md, "Run directories"), and the probe python/idamoe_torch/fit.py fitted on.
INFORMATIONAL_KEYS = ("idamoe.step", "idamoe.model", "idamoe.vocab", "idamoe.producer", "idamoe.fit_probe")


@dataclass
class Router:
    """One MoE layer's router. Linear layers are (weight [out, in] float32, bias [out] float32 or None).

    IDA routers use the encoder, decoder and mixture and `gate_temperature`; linear-gate routers
    (softmax, sigmoid-bias) use `gate`, `expert_bias` (required for sigmoid-bias, optional for softmax)
    and the gate options `gate_normalize`, `gate_scale`, `expert_groups`, `group_top_k`, `group_score`,
    `selection_bias_on` (docs/format.md, "Gate options").
    """
    kind: str  # "ida", "softmax" or "sigmoid-bias"
    layer: int
    experts: int
    top_k: int
    components_per_expert: int = 1
    latent_dim: int = 0
    activation: str = "gelu"
    expert_score: str = "max"
    input_norm: str = "none"
    latent_norm: str = "none"
    log_var_min: float = -math.inf
    log_var_max: float = math.inf
    gate_temperature: float = 1.0  # IDA: T
    prior_mass: str = "global"     # IDA: "global" or "per-expert"
    encoder: List[Tuple[np.ndarray, Optional[np.ndarray]]] = field(default_factory=list)
    decoder: List[Tuple[np.ndarray, Optional[np.ndarray]]] = field(default_factory=list)
    logits: Optional[np.ndarray] = None    # [K]
    means: Optional[np.ndarray] = None     # [K, P]
    log_vars: Optional[np.ndarray] = None  # [K, P]
    gate: Optional[Tuple[np.ndarray, Optional[np.ndarray]]] = None  # linear gates: ([E, D], [E] or None)
    expert_bias: Optional[np.ndarray] = None  # [E] float32, the selection bias b (sigmoid-bias; softmax optional)
    gate_normalize: bool = True
    gate_scale: float = 1.0   # c, a float32 value (the Swift router keeps it as Float)
    expert_groups: int = 1    # G
    group_top_k: int = 1      # groups kept; G when the file does not say
    group_score: str = "top2sum"  # or "max": a group's score
    selection_bias_on: str = "scores"  # or "logits": what expert_bias is added to for the choice
    _gmm: Optional[dict] = None

    @property
    def components(self) -> int:
        return self.experts * self.components_per_expert if self.kind == "ida" else 0

    @property
    def hidden_dim(self) -> int:
        return int(self.encoder[0][0].shape[1] if self.kind == "ida" else self.gate[0].shape[1])

    @property
    def prior_groups(self) -> int:
        """G: the prior is normalised within G contiguous groups of K/G components (E for per-expert)."""
        return self.experts if self.kind == "ida" and self.prior_mass == "per-expert" else 1

    @property
    def priors(self) -> Optional[np.ndarray]:
        if self.kind != "ida":
            return None
        a = self.logits.astype(np.float64)
        if self.prior_groups > 1:
            return np.exp(grouped_log_priors(a, self.prior_groups))
        e = np.exp(a - a.max())
        return e / e.sum()

    def check_top_k(self, k: int) -> None:
        """Refuses a k this router cannot choose: outside 1...E, or more than the kept groups hold."""
        if not 1 <= k <= self.experts:
            raise RefError(f"--top-k must be 1...{self.experts}, got {k}")
        eligible = self.group_top_k * (self.experts // self.expert_groups)
        if eligible < k:
            raise RefError(f"--top-k {k} is more than the {eligible} experts of the {self.group_top_k} kept "
                           f"groups of layer {self.layer}")

    def with_top_k(self, k: int) -> "Router":
        self.check_top_k(k)
        r = Router(**{f: getattr(self, f) for f in self.__dataclass_fields__ if f != "_gmm"})
        r.top_k = k
        return r

    def gmm_constants(self) -> dict:
        """Per-component float64 quantities of the sklearn formula, computed once."""
        if self._gmm is None:
            self._gmm = gmm_constants(self.logits, self.means, self.log_vars, self.log_var_min, self.log_var_max,
                                      self.prior_groups)
        return self._gmm


@dataclass
class Checkpoint:
    path: str
    kind: str
    moe_layers: List[int]
    metadata: Dict[str, str]
    routers: Dict[int, Router]
    step: Optional[int]


_INT = re.compile(r"[+-]?[0-9]+")


def _meta_int(meta, path, key, default=None):
    text = meta.get(key)
    if text is None:
        if default is None:
            raise RefError(f"{path}: metadata {key}: missing")
        return default
    if not _INT.fullmatch(text.strip()):
        raise RefError(f"{path}: metadata {key}: '{text}' is not an integer")
    return int(text.strip())


def _meta_real(meta, path, key, default):
    text = meta.get(key)
    if text is None:
        return default
    try:
        v = float(text.strip()) if "_" not in text else math.nan
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise RefError(f"{path}: metadata {key}: '{text}' is not a finite number")
    return v


def _meta_choice(meta, path, key, choices, default):
    text = meta.get(key)
    if text is None:
        return default
    if text not in choices:
        raise RefError(f"{path}: metadata {key}: unknown value '{text}' ({', '.join(choices)})")
    return text


def _check_keys(meta, path, kind):
    """Refuses `idamoe.*` keys this reference does not implement, and keys of the other router kinds."""
    for key in sorted(meta):
        if not key.startswith("idamoe.") or key in COMMON_KEYS or key in INFORMATIONAL_KEYS:
            continue
        if key in IDA_KEYS:
            if kind != "ida":
                raise RefError(f"{path}: metadata {key}: applies to ida routers only")
        elif key in GATE_KEYS:
            if kind == "ida":
                raise RefError(f"{path}: metadata {key}: applies to softmax and sigmoid-bias routers only")
        else:
            raise RefError(f"{path}: metadata {key}: not a key this reference implements")


def _bounded(path, key, value, limit, what=""):
    if not 1 <= value <= limit:
        raise RefError(f"{path}: metadata {key}: {what}{value} is outside 1...{limit}")


def _layer_experts(meta, path, layers, experts, m, top_k) -> Dict[int, int]:
    """E of each MoE block: `idamoe.layer_experts` in the order of `idamoe.moe_layers`, else `idamoe.experts`."""
    text = meta.get("idamoe.layer_experts")
    if text is None:
        return {i: experts for i in layers}
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(layers) or not all(_INT.fullmatch(p) for p in parts):
        raise RefError(f"{path}: metadata idamoe.layer_experts: '{text}' must list one expert count per block "
                       f"of idamoe.moe_layers ({len(layers)})")
    out = {}
    for i, part in zip(layers, parts):
        e = int(part)
        _bounded(path, "idamoe.layer_experts", e, MAX_EXPERTS, f"block {i}: ")
        if e * m > MAX_COMPONENTS:
            raise RefError(f"{path}: metadata idamoe.layer_experts: block {i}: E x M = {e} x {m} is above "
                           f"{MAX_COMPONENTS} components")
        if top_k > e:
            raise RefError(f"{path}: metadata idamoe.top_k: {top_k} is above block {i}'s {e} experts")
        out[i] = e
    return out


def _gate_options(meta, path, experts: Sequence[int], top_k: int) -> dict:
    """The gate options of a linear-gate checkpoint, checked against every layer's E (docs/format.md)."""
    opts = dict(gate_normalize=True, gate_scale=1.0, expert_groups=1, group_top_k=1, group_score="top2sum",
                selection_bias_on="scores")
    for key, choices in (("idamoe.group_score", ("top2sum", "max")), ("idamoe.selection_bias_on", ("scores", "logits"))):
        if key in meta:
            if meta[key].strip() not in choices:
                raise RefError(f"{path}: metadata {key}: '{meta[key]}' is not {' or '.join(choices)}")
            opts[key.split(".", 1)[1]] = meta[key].strip()
    text = meta.get("idamoe.gate_normalize")
    if text is not None:
        if text.strip() not in ("true", "false"):
            raise RefError(f"{path}: metadata idamoe.gate_normalize: '{text}' is not true or false")
        opts["gate_normalize"] = text.strip() == "true"
    if "idamoe.gate_scale" in meta:
        with np.errstate(over="ignore"):
            c = float(np.float32(_meta_real(meta, path, "idamoe.gate_scale", 1.0)))
        if not (math.isfinite(c) and c > 0):
            raise RefError(f"{path}: metadata idamoe.gate_scale: '{meta['idamoe.gate_scale']}' is not a finite "
                           "number > 0 (as a float32)")
        opts["gate_scale"] = c
    g = _meta_int(meta, path, "idamoe.expert_groups", 1)
    kept = _meta_int(meta, path, "idamoe.group_top_k", g)
    for e in sorted(set(experts)):
        if not 1 <= g <= e or e % g:
            raise RefError(f"{path}: metadata idamoe.expert_groups: {g} groups do not divide {e} experts evenly")
        if not 1 <= kept <= g:
            raise RefError(f"{path}: metadata idamoe.group_top_k: {kept} is outside 1...{g}")
        if kept * (e // g) < top_k:
            raise RefError(f"{path}: metadata idamoe.group_top_k: {kept} of {g} groups hold {kept * (e // g)} "
                           f"of {e} experts, fewer than top_k {top_k}")
    opts.update(expert_groups=g, group_top_k=kept)
    return opts


def _finite(f: SafetensorsFile, name: str, a: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
        raise RefError(f"{f.path}: tensor {name} holds a non-finite value at element {bad}")
    return a


def _tensor(f: SafetensorsFile, name: str, shape: Sequence[Optional[int]]) -> np.ndarray:
    t = f.info(name)
    if t is None:
        raise RefError(f"{f.path}: missing tensor {name}")
    if len(t.shape) != len(shape) or any(s is not None and s != u for s, u in zip(shape, t.shape)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise RefError(f"{f.path}: tensor {name} has shape {list(t.shape)}, expected {want}")
    return _finite(f, name, f.array(name, np.float32 if t.dtype != "F64" else np.float64))


def _linear(f, prefix, inputs=None, outputs=None):
    w = _tensor(f, prefix + ".weight", [outputs, inputs])
    b = _tensor(f, prefix + ".bias", [w.shape[0]]) if f.info(prefix + ".bias") else None
    return (np.ascontiguousarray(w, dtype=np.float32), None if b is None else b.astype(np.float32))


def _stack(f, prefix):
    layers = []
    while f.info(f"{prefix}.{len(layers)}.weight") is not None:
        prev = layers[-1][0].shape[0] if layers else None
        layers.append(_linear(f, f"{prefix}.{len(layers)}", inputs=prev))
    if not layers:
        raise RefError(f"{f.path}: missing tensor {prefix}.0.weight")
    return layers


def load_checkpoint(path: str) -> Checkpoint:
    """Reads every router of a checkpoint, checking the metadata and the shapes against it.

    Refuses (RefError) any `idamoe.*` key or value the reference does not implement, rather than
    routing as if it were absent.
    """
    f = SafetensorsFile(path)
    meta = f.metadata
    fmt = meta.get("idamoe.format")
    if fmt is None:
        raise RefError(f"{path}: metadata idamoe.format: missing")
    if fmt != "1":
        raise RefError(f"{path}: metadata idamoe.format: version '{fmt}' is not supported (this idamoe reads 1)")
    kind = meta.get("idamoe.router")
    if kind not in ROUTER_KINDS:
        raise RefError(f"{path}: metadata idamoe.router: unknown router '{kind}' ({', '.join(ROUTER_KINDS)})")
    _check_keys(meta, path, kind)
    text = meta.get("idamoe.moe_layers")
    if text is None:
        raise RefError(f"{path}: metadata idamoe.moe_layers: missing")
    parts = [p.strip() for p in text.split(",")]
    if not all(_INT.fullmatch(p) and int(p) >= 0 for p in parts):
        raise RefError(f"{path}: metadata idamoe.moe_layers: '{text}' is not a list of block indices")
    order = [int(p) for p in parts]
    if any(i > MAX_BLOCK for i in order):
        raise RefError(f"{path}: metadata idamoe.moe_layers: a block index of '{text}' is above {MAX_BLOCK}")
    if len(set(order)) != len(order):
        raise RefError(f"{path}: metadata idamoe.moe_layers: '{text}' must list distinct block indices")
    layers = sorted(order)
    e = _meta_int(meta, path, "idamoe.experts")
    _bounded(path, "idamoe.experts", e, MAX_EXPERTS)
    top_k = _meta_int(meta, path, "idamoe.top_k", 2)
    if not 1 <= top_k <= e:
        raise RefError(f"{path}: metadata idamoe.top_k: {top_k} is outside 1...{e}")
    step = meta.get("idamoe.step")
    try:
        step = int(step) if step is not None else None
    except ValueError:
        step = None
    routers: Dict[int, Router] = {}
    if kind == "ida":
        m = _meta_int(meta, path, "idamoe.components_per_expert")
        p = _meta_int(meta, path, "idamoe.latent_dim")
        _bounded(path, "idamoe.components_per_expert", m, MAX_COMPONENTS_PER_EXPERT)
        _bounded(path, "idamoe.latent_dim", p, MAX_LATENT)
        if e * m > MAX_COMPONENTS:
            raise RefError(f"{path}: metadata idamoe.components_per_expert: E x M = {e} x {m} is above "
                           f"{MAX_COMPONENTS} components")
        experts = _layer_experts(meta, path, order, e, m, top_k)
        t = _meta_real(meta, path, "idamoe.gate_temperature", 1.0)
        if not MIN_GATE_TEMPERATURE < t <= MAX_GATE_TEMPERATURE:
            raise RefError(f"{path}: metadata idamoe.gate_temperature: {t} must be in "
                           f"({MIN_GATE_TEMPERATURE:g}, {MAX_GATE_TEMPERATURE:g}]")
        common = dict(
            top_k=top_k, components_per_expert=m, latent_dim=p, gate_temperature=t,
            activation=_meta_choice(meta, path, "idamoe.activation", ACTIVATIONS, "gelu"),
            expert_score=_meta_choice(meta, path, "idamoe.expert_score", ("max", "sum"), "max"),
            input_norm=_meta_choice(meta, path, "idamoe.input_norm", ("none", "rms"), "none"),
            latent_norm=_meta_choice(meta, path, "idamoe.latent_norm", ("none", "rms"), "none"),
            prior_mass=_meta_choice(meta, path, "idamoe.prior_mass", PRIOR_MASSES, "global"),
            log_var_min=_meta_real(meta, path, "idamoe.log_var_min", -math.inf),
            log_var_max=_meta_real(meta, path, "idamoe.log_var_max", math.inf),
        )
        if common["log_var_min"] > common["log_var_max"]:
            raise RefError(f"{path}: metadata idamoe.log_var_min: exceeds idamoe.log_var_max")
        for i in layers:
            pre = f"layers.{i}.router"
            k = experts[i] * m
            enc = _stack(f, pre + ".encoder")
            dec = _stack(f, pre + ".decoder")
            if enc[-1][0].shape[0] != p:
                raise RefError(f"{path}: tensor {pre}.encoder.{len(enc) - 1}.weight has shape "
                               f"{list(enc[-1][0].shape)}, expected [{p}, *]")
            d = enc[0][0].shape[1]
            if dec[0][0].shape[1] != p or dec[-1][0].shape[0] != d:
                raise RefError(f"{path}: tensor {pre}.decoder.0.weight: expected a stack from {p} back to {d}")
            routers[i] = Router(
                kind="ida", layer=i, experts=experts[i], encoder=enc, decoder=dec,
                logits=_tensor(f, pre + ".gmm.logits", [k]).astype(np.float32),
                means=_tensor(f, pre + ".gmm.means", [k, p]).astype(np.float32),
                log_vars=_tensor(f, pre + ".gmm.log_vars", [k, p]).astype(np.float32),
                **common)
    else:
        experts = _layer_experts(meta, path, order, e, 1, top_k)
        opts = _gate_options(meta, path, [e, *experts.values()], top_k)
        for i in layers:
            pre = f"layers.{i}.router"
            bias = None
            if kind == "sigmoid-bias" or f.info(pre + ".expert_bias") is not None:
                bias = _tensor(f, pre + ".expert_bias", [experts[i]]).astype(np.float32)
            routers[i] = Router(kind=kind, layer=i, experts=experts[i], top_k=top_k,
                                gate=_linear(f, pre + ".gate", outputs=experts[i]), expert_bias=bias, **opts)
    return Checkpoint(path=path, kind=kind, moe_layers=layers, metadata=meta, routers=routers, step=step)


# ----------------------------------------------------------------------------------------------
# probes

class Probe:
    """A probe file: `tokens` [N] and `layers.{i}.hidden` [N, D], read block by block."""

    def __init__(self, path: str):
        self.file = f = SafetensorsFile(path)
        t = f.info("tokens")
        if t is None:
            raise RefError(f"{path}: missing tensor tokens")
        if len(t.shape) != 1:
            raise RefError(f"{path}: tensor tokens has shape {list(t.shape)}, expected [N]")
        self.count = n = t.shape[0]
        self.tokens = f.array("tokens", np.int64)
        self.domains = self._ids("domains")
        self.documents = self._ids("documents")
        self.hidden_dims: Dict[int, int] = {}
        for name, info in f.tensors.items():
            if name.startswith("layers.") and name.endswith(".hidden"):
                try:
                    i = int(name[len("layers."):-len(".hidden")])
                except ValueError:
                    continue
                if len(info.shape) != 2 or info.shape[0] != n:
                    raise RefError(f"{path}: tensor {name} has shape {list(info.shape)}, expected [{n}, D]")
                if info.dtype not in FLOAT_DTYPES:
                    raise RefError(f"{path}: metadata {name}: dtype {info.dtype} is not a float type")
                self.hidden_dims[i] = info.shape[1]
        vocab = f.metadata.get("idamoe.vocab", "bytes")
        self.vocab = "bytes" if vocab == "bytes" else json.loads(vocab)
        self.domain_names = json.loads(f.metadata.get("idamoe.domain_names", "[]"))

    def _ids(self, name):
        info = self.file.info(name)
        if info is None:
            return None
        if info.shape != (self.count,):
            raise RefError(f"{self.file.path}: tensor {name} has shape {list(info.shape)}, expected [{self.count}]")
        return self.file.array(name, np.int64)

    @property
    def layers(self) -> List[int]:
        return sorted(self.hidden_dims)

    def hidden(self, layer: int, start: int = 0, stop: Optional[int] = None) -> np.ndarray:
        """Rows [start, stop) of layer `layer`'s hidden states as float32 [rows, D]."""
        if layer not in self.hidden_dims:
            raise RefError(f"{self.file.path}: no hidden states for MoE layer {layer} "
                           f"(tensor layers.{layer}.hidden); probe has layers {self.layers}")
        stop = self.count if stop is None else stop
        name = f"layers.{layer}.hidden"
        h = self.file.rows(name, start, stop)
        if not np.all(np.isfinite(h)):
            bad = int(np.flatnonzero(~np.isfinite(h.ravel()))[0])
            raise RefError(f"{self.file.path}: tensor {name} holds a non-finite value at element "
                           f"{start * h.shape[1] + bad}")
        return h


def load_probe(path: str) -> Probe:
    return Probe(path)


def check_layers(ck: Checkpoint, probe: Probe, layer: Optional[int] = None) -> List[int]:
    """The MoE layers to route, checked against the probe (same messages as `idamoe route`)."""
    if layer is not None:
        if layer not in ck.routers:
            raise RefError(f"layer {layer} is not a MoE layer of this checkpoint (MoE layers: {ck.moe_layers})")
        layers = [layer]
    else:
        layers = list(ck.moe_layers)
    for i in layers:
        d = probe.hidden_dims.get(i)
        if d is None:
            raise RefError(f"{probe.file.path}: no hidden states for MoE layer {i} (tensor layers.{i}.hidden); "
                           f"probe has layers {probe.layers}")
        want = ck.routers[i].hidden_dim
        if d != want:
            raise RefError(f"{probe.file.path}: tensor layers.{i}.hidden has shape [{probe.count}, {d}], "
                           f"expected [{probe.count}, {want}] (the router's hidden width)")
    return layers


# ----------------------------------------------------------------------------------------------
# the math

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_erf = None


def _erf_fn():
    global _erf
    if _erf is None:
        try:
            from scipy.special import erf  # exact to float precision
        except ImportError:  # pragma: no cover - scipy comes with scikit-learn
            erf = np.vectorize(math.erf, otypes=[np.float64])
        _erf = erf
    return _erf


def activation(name: str, u: np.ndarray) -> np.ndarray:
    """The element-wise nonlinearity `name` applied to `u` (same dtype)."""
    dt = u.dtype
    if name == "gelu":
        return (0.5 * u * (1.0 + _erf_fn()(u * dt.type(1.0 / math.sqrt(2.0))))).astype(dt, copy=False)
    if name == "gelu_tanh":
        inner = dt.type(_SQRT_2_OVER_PI) * (u + dt.type(0.044715) * u * u * u)
        return 0.5 * u * (1.0 + np.tanh(inner))
    if name == "relu":
        return np.maximum(u, dt.type(0))
    if name == "silu":
        with np.errstate(over="ignore"):
            return u / (1.0 + np.exp(-u))
    if name == "tanh":
        return np.tanh(u)
    raise ValueError(f"unknown activation {name}")


def mlp(layers, x: np.ndarray, act: str) -> np.ndarray:
    """Linear, act, Linear, ..., Linear (no activation after the last), in float32."""
    out = x
    for j, (w, b) in enumerate(layers):
        out = out @ w.T
        if b is not None:
            out += b
        if j + 1 < len(layers):
            out = activation(act, out)
    return out


def router_input(router: Router, h: np.ndarray) -> np.ndarray:
    """x = h, or h / sqrt(mean(h^2) + 1e-6) per row when input_norm == rms (float32)."""
    h = np.asarray(h, dtype=np.float32)
    if router.input_norm != "rms":
        return h
    ms = np.einsum("ij,ij->i", h, h, dtype=np.float64) / max(h.shape[1], 1)
    scale = (1.0 / np.sqrt(ms + RMS_EPS)).astype(np.float32)
    return h * scale[:, None]


def encode(router: Router, x: np.ndarray) -> np.ndarray:
    """z = encoder(x), RMS-normalised per row when latent_norm == rms (float32)."""
    u = mlp(router.encoder, x, router.activation)
    if router.latent_norm != "rms":
        return u
    ms = np.einsum("ij,ij->i", u, u, dtype=np.float64) / max(u.shape[1], 1)
    return (u / np.sqrt(ms + RMS_EPS)[:, None]).astype(np.float32)


def decode(router: Router, z: np.ndarray) -> np.ndarray:
    return mlp(router.decoder, z, router.activation)


def grouped_log_priors(logits, groups: int = 1) -> np.ndarray:
    """log pi [K] in float64: a_k - logsumexp of a over k's group - log G, for G contiguous groups of K/G
    components (G = 1: log softmax over all K; G = E: the per-expert prior mass)."""
    a = np.asarray(logits, dtype=np.float64)
    k = a.shape[0]
    if groups < 1 or k % groups:
        raise ValueError(f"prior groups must divide the {k} components, got {groups}")
    if groups == 1:
        return a - (a.max() + np.log(np.sum(np.exp(a - a.max()))))
    g = a.reshape(groups, k // groups)
    top = g.max(axis=1, keepdims=True)
    return (g - (top + np.log(np.sum(np.exp(g - top), axis=1, keepdims=True)))).reshape(k) - math.log(groups)


def gmm_constants(logits, means, log_vars, log_var_min=-math.inf, log_var_max=math.inf, prior_groups=1) -> dict:
    """Float64 per-component quantities: clipped s, prec = exp(-s), mu*prec, sum mu^2 prec, log_det, log pi
    (normalised within `prior_groups` contiguous groups; 1: over all K)."""
    mu = np.asarray(means, dtype=np.float64)
    s = np.clip(np.asarray(log_vars, dtype=np.float64), log_var_min, log_var_max)
    prec = np.exp(-s)
    log_w = grouped_log_priors(logits, prior_groups)
    return dict(
        prec=prec,                                  # [K, P] precisions (= precisions_cholesky^2)
        mu_prec=mu * prec,                          # [K, P]
        mu2_prec=np.sum(mu * mu * prec, axis=1),    # [K]
        log_det=-0.5 * np.sum(s, axis=1),           # [K] sum log(precisions_cholesky)
        log_w=log_w,                                # [K] log mixture weights
        p=mu.shape[1],
    )


def gmm_log_joint(z: np.ndarray, const: dict) -> np.ndarray:
    """log p(z, k) [N, K] in float64, sklearn's diagonal formula (z widened to float64 first)."""
    z = np.asarray(z).astype(np.float64, copy=False)
    quad = const["mu2_prec"] - 2.0 * (z @ const["mu_prec"].T) + (z * z) @ const["prec"].T
    return -0.5 * (const["p"] * LOG_2PI + quad) + const["log_det"] + const["log_w"]


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.sum(np.exp(a - top[:, None]), axis=1))


def gmm_log_prob(z, logits, means, log_vars, log_var_min=-math.inf, log_var_max=math.inf, prior_groups=1):
    """(log p(z) [N], posterior gamma [N, K]) for latents z; matches score_samples / predict_proba (with
    prior_groups 1)."""
    lj = gmm_log_joint(z, gmm_constants(logits, means, log_vars, log_var_min, log_var_max, prior_groups))
    lp = _logsumexp_rows(lj)
    return lp, np.exp(lj - lp[:, None])


def entropy_bits(q: np.ndarray) -> np.ndarray:
    """-sum q log2 q per row, with 0 log 0 = 0."""
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = q * np.log2(q)
    t[q <= 0] = 0.0
    return -t.sum(axis=1)


def _top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Top-k indices [n, k] by score descending, ties to the lower index."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _top_k(scores: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """Top-k indices by score descending, ties to the lower index, and the renormalised weights."""
    idx = _top_k_indices(scores, k)
    sel = np.take_along_axis(scores, idx, axis=1)
    return idx, sel / sel.sum(axis=1, keepdims=True)


def tempered_weights(selected: np.ndarray, temperature: float) -> np.ndarray:
    """IDA gate weights [n, k] from the chosen expert scores [n, k] (best first): each score to the power
    1/T, renormalised (docs/format.md, `idamoe.gate_temperature`). s^(1/T) / sum is computed as
    exp((log s - log s_best) / T) / sum so that small scores do not underflow; a zero score weighs 0."""
    selected = np.asarray(selected, dtype=np.float64)
    if temperature == 1:
        return selected / selected.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        logs = np.log(selected)
    powered = np.where(selected > 0, np.exp((logs - logs[:, :1]) / temperature), 0.0)
    return powered / powered.sum(axis=1, keepdims=True)


def group_limited_top_k(selection: np.ndarray, k: int, groups: int, kept: int, score: str = "top2sum") -> np.ndarray:
    """Experts [n, k] chosen by selection score [n, E] among the `kept` best of `groups` groups of
    consecutive experts (docs/format.md, "Gate options"; DeepSeek-V3's n_group, topk_group).

    A group's score is the sum of its two largest selection scores (its one score when a group holds
    one expert), or its largest with `score` "max" (DeepSeek-V2); the best groups are kept, ties to
    the lower group; then the top-k among their experts, ties to the lower index. With kept == groups
    this is the plain top-k."""
    n, e = selection.shape
    if groups <= 1 or kept >= groups:
        return _top_k_indices(selection, k)
    size = e // groups
    by_group = selection.reshape(n, groups, size)
    best_two = -np.sort(-by_group, axis=2)[:, :, :min(size, 2)]
    group_scores = best_two[:, :, 0] + best_two[:, :, 1] if size > 1 and score == "top2sum" else best_two[:, :, 0]
    keep = np.zeros((n, groups), dtype=bool)
    np.put_along_axis(keep, _top_k_indices(group_scores, kept), True, axis=1)
    masked = np.where(np.repeat(keep, size, axis=1), selection, -np.inf)
    return _top_k_indices(masked, k)


def _route_gate(router: Router, h: np.ndarray, k: int) -> dict:
    """Softmax and sigmoid-bias routers (docs/format.md, "Routing, exactly" and "Gate options").

    Scores: softmax probabilities p, or sigmoids s = sigmoid(W h + b). Selection scores (what top-k
    ranks): the scores, plus expert_bias when the router has one (added to the logits instead with
    selection_bias_on "logits"). Gate weights: c u_j with u_j the chosen scores renormalised
    (gate_normalize) or as they are. Expert distribution (entropy, posterior): p, or s / sum(s)."""
    w, b = router.gate
    logits = h @ w.T
    if b is not None:
        logits += b
    lg = logits.astype(np.float64)
    if router.kind == "softmax":
        ex = np.exp(lg - lg.max(axis=1, keepdims=True))
        scores = ex / ex.sum(axis=1, keepdims=True)
        distribution = scores
    else:
        with np.errstate(over="ignore"):
            scores = 1.0 / (1.0 + np.exp(-lg))
        distribution = scores / scores.sum(axis=1, keepdims=True)
    selection = scores
    if router.expert_bias is not None:
        selection = (lg if router.selection_bias_on == "logits" else scores) + router.expert_bias.astype(np.float64)
    experts = group_limited_top_k(selection, k, router.expert_groups, router.group_top_k, router.group_score)
    chosen = np.take_along_axis(scores, experts, axis=1)
    if router.gate_normalize:
        chosen = chosen / chosen.sum(axis=1, keepdims=True)
    return dict(experts=experts, weights=router.gate_scale * chosen, log_density=None,
                entropy_bits=entropy_bits(distribution), posterior=distribution, scores=selection,
                top_component=None, z=None, xhat=None)


def route_block(router: Router, h: np.ndarray, top_k: Optional[int] = None, reconstruct: bool = True) -> dict:
    """Routes one block of hidden states h [n, D].

    Returns experts [n,k] int64, weights [n,k] f64, log_density [n] f64 or None, entropy_bits [n],
    posterior [n,K] (linear gates: the expert distribution [n,E]), scores [n,E] (what top-k ranks:
    IDA expert scores g, softmax probabilities, sigmoid-bias s + expert_bias), top_component [n] or
    None, z [n,P] f32 or None, xhat [n,D] f32 or None.
    """
    k = top_k or router.top_k
    router.check_top_k(k)
    h = np.asarray(h, dtype=np.float32)
    if h.ndim != 2 or h.shape[1] != router.hidden_dim:
        raise RefError(f"router of layer {router.layer} expects hidden width {router.hidden_dim}, got {h.shape}")
    if router.kind != "ida":
        return _route_gate(router, h, k)
    x = router_input(router, h)
    z = encode(router, x)
    lj = gmm_log_joint(z, router.gmm_constants())
    log_density = _logsumexp_rows(lj)
    gamma = np.exp(lj - log_density[:, None])
    n, e, m = gamma.shape[0], router.experts, router.components_per_expert
    grouped = gamma.reshape(n, e, m)
    q = grouped.sum(axis=2)
    scores = grouped.max(axis=2) if router.expert_score == "max" else q
    experts = _top_k_indices(scores, k)
    weights = tempered_weights(np.take_along_axis(scores, experts, axis=1), router.gate_temperature)
    return dict(experts=experts, weights=weights, log_density=log_density, entropy_bits=entropy_bits(q),
                posterior=gamma, scores=scores, top_component=np.argmax(gamma, axis=1), z=z,
                xhat=decode(router, z) if reconstruct else None)


def route_layer(router: Router, hidden, top_k: Optional[int] = None, block_size: int = DEFAULT_BLOCK,
                reconstruct: bool = True) -> dict:
    """Routes all rows of `hidden` ([N, D] array, or a Probe with router.layer) block by block."""
    if isinstance(hidden, Probe):
        n = hidden.count
        get = lambda a, b: hidden.hidden(router.layer, a, b)  # noqa: E731
    else:
        n = hidden.shape[0]
        get = lambda a, b: hidden[a:b]  # noqa: E731
    parts = [route_block(router, get(a, min(a + block_size, n)), top_k, reconstruct)
             for a in range(0, n, block_size)]
    if not parts:
        parts = [route_block(router, np.zeros((0, router.hidden_dim), np.float32), top_k, reconstruct)]
    return {key: (None if parts[0][key] is None else np.concatenate([p[key] for p in parts]))
            for key in parts[0]}


def iter_route(ck: Checkpoint, probe: Probe, layers: Sequence[int], top_k: Optional[int] = None,
               block_size: int = DEFAULT_BLOCK, reconstruct: bool = False) -> Iterator[Tuple[int, int, list]]:
    """Yields (start, stop, [result per layer]) block by block, token-major."""
    for a in range(0, probe.count, block_size):
        b = min(a + block_size, probe.count)
        yield a, b, [route_block(ck.routers[i], probe.hidden(i, a, b), top_k, reconstruct) for i in layers]


# ----------------------------------------------------------------------------------------------
# metrics

def coefficient_of_variation(load: np.ndarray) -> float:
    load = np.asarray(load, dtype=np.float64)
    if load.size == 0 or load.mean() <= 0:
        return 0.0
    return float(load.std() / load.mean())


class MetricsAccumulator:
    """Per-layer statistics accumulated block by block."""

    def __init__(self, experts: int, components: int = 0):
        self.experts, self.components = experts, components
        self.assignments = np.zeros(experts, np.int64)
        self.first_choices = np.zeros(experts, np.int64)
        self.gate_sums = np.zeros(experts, np.float64)
        self.component_counts = np.zeros(components, np.int64)
        self.tokens = 0
        self.entropy_sum = 0.0
        self.log_density_sum = 0.0
        self.saw_density = False

    def add(self, result: dict) -> None:
        self.tokens += result["experts"].shape[0]
        self.assignments += np.bincount(result["experts"].ravel(), minlength=self.experts)
        self.first_choices += np.bincount(result["experts"][:, 0], minlength=self.experts)
        self.gate_sums += np.bincount(result["experts"].ravel(), weights=np.asarray(result["weights"], np.float64).ravel(),
                                      minlength=self.experts)
        self.entropy_sum += float(np.sum(result["entropy_bits"]))
        if result["log_density"] is not None:
            self.saw_density = True
            self.log_density_sum += float(np.sum(result["log_density"]))
        if result.get("top_component") is not None and self.components:
            self.component_counts += np.bincount(result["top_component"], minlength=self.components)

    def finish(self, priors: Optional[np.ndarray] = None, tau: float = 0.1) -> dict:
        total = self.assignments.sum()
        load = self.assignments / total if total > 0 else np.zeros(self.experts)
        n = max(self.tokens, 1)
        usage = dead = None
        if self.components:
            usage = self.component_counts / n
            if priors is not None:
                thr = tau / self.components
                dead = int(np.sum((usage < thr) & (np.asarray(priors) < thr)))
        top1 = self.first_choices / n
        gate_total = self.gate_sums.sum()
        gate = self.gate_sums / gate_total if gate_total > 0 else np.zeros(self.experts)
        return dict(tokens=self.tokens, load=load, cv=coefficient_of_variation(load),
                    load_top1=top1, cv_top1=coefficient_of_variation(top1),
                    load_gate=gate, cv_gate=coefficient_of_variation(gate),
                    mean_entropy_bits=self.entropy_sum / n if self.tokens else 0.0,
                    nll=-self.log_density_sum / n if self.saw_density else None,
                    component_usage=usage, dead_components=dead)


def layer_metrics(result: dict, experts: int, components: int = 0, priors=None, tau: float = 0.1) -> dict:
    """Load [E], CV, mean entropy (bits), NLL (IDA only), component usage and dead count of a routed layer."""
    acc = MetricsAccumulator(experts, components)
    acc.add(result)
    return acc.finish(priors, tau)


# ----------------------------------------------------------------------------------------------
# comparing `idamoe route --jsonl` output with this reference (test_interop.py, test_reference.py)

COMPARE_RTOL, COMPARE_ATOL = 1e-4, 1e-6    # weights, log_density, entropy_bits, posterior
TIE_COMPARE_RTOL, TIE_COMPARE_ATOL = 1e-5, 1e-12  # expert scores that count as tied


def reference_routes(ck_path, probe_path, layer=None, top_k=None):
    """The reference for `idamoe route`: (layers, {layer: route_layer result}, checkpoint, probe)."""
    ck = load_checkpoint(ck_path)
    probe = load_probe(probe_path)
    layers = check_layers(ck, probe, layer)
    out = {}
    for i in layers:
        router = ck.routers[i] if top_k is None else ck.routers[i].with_top_k(top_k)
        out[i] = route_layer(router, probe, reconstruct=False, block_size=64)
    return layers, out, ck, probe


def _close(a, b):
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                       rtol=COMPARE_RTOL, atol=COMPARE_ATOL)


def _near_tie(a, b):
    return abs(a - b) <= TIE_COMPARE_RTOL * max(abs(a), abs(b)) + TIE_COMPARE_ATOL


def compare_route_lines(lines, layers, results, ck, probe, posterior=True, top_k=None):
    """Checks JSONL lines of `idamoe route --jsonl [--posterior]` against reference_routes' results.

    Experts must match, except that positions whose reference expert scores are within
    TIE_COMPARE_RTOL relative (TIE_COMPARE_ATOL absolute) may hold either expert; weights,
    log_density, entropy_bits and posterior must agree within COMPARE_RTOL relative or COMPARE_ATOL
    absolute. Returns a list of problems (empty when everything agrees).
    """
    problems = []
    n = probe.count
    expected_count = n * len(layers)
    if len(lines) != expected_count:
        problems.append(f"{len(lines)} lines, expected {expected_count} (N={n} x {len(layers)} layers)")
    for idx, text in enumerate(lines[:expected_count]):
        if len(problems) >= 12:
            problems.append("... (stopping after 12 problems)")
            break
        token, layer = idx // len(layers), layers[idx % len(layers)]
        where = f"line {idx + 1} (token {token}, layer {layer})"
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not JSON ({e}): {text[:120]!r}")
            continue
        if obj.get("token") != token or obj.get("layer") != layer:
            problems.append(f"{where}: has token {obj.get('token')}, layer {obj.get('layer')} (order must be "
                            "token-major, layer-minor)")
            continue
        keys = {"token", "layer", "experts", "weights", "log_density", "entropy_bits"} | (
            {"posterior"} if posterior else set())
        if set(obj) != keys:
            problems.append(f"{where}: keys {sorted(obj)}, expected {sorted(keys)}")
            continue
        res = results[layer]
        router = ck.routers[layer]
        k = top_k or router.top_k
        want_e = res["experts"][token].tolist()
        got_e = obj["experts"]
        scores = res["scores"][token]
        if not (isinstance(got_e, list) and len(got_e) == k and len(set(got_e)) == k
                and all(isinstance(e, int) and 0 <= e < router.experts for e in got_e)):
            problems.append(f"{where}: experts {got_e} are not {k} distinct expert indices")
            continue
        if got_e != want_e and not all(_near_tie(scores[g], scores[w]) for g, w in zip(got_e, want_e)):
            problems.append(f"{where}: experts {got_e}, reference {want_e} (scores {scores.tolist()})")
        if len(obj["weights"]) != k or not _close(obj["weights"], res["weights"][token]):
            problems.append(f"{where}: weights {obj['weights']}, reference {res['weights'][token].tolist()}")
        if res["log_density"] is None:
            if obj["log_density"] is not None:
                problems.append(f"{where}: log_density {obj['log_density']}, expected null ({router.kind} router)")
        elif obj["log_density"] is None or not _close(obj["log_density"], res["log_density"][token]):
            problems.append(f"{where}: log_density {obj['log_density']}, reference {float(res['log_density'][token])!r}")
        if obj["entropy_bits"] is None or not _close(obj["entropy_bits"], res["entropy_bits"][token]):
            problems.append(f"{where}: entropy_bits {obj['entropy_bits']}, reference {float(res['entropy_bits'][token])!r}")
        if posterior:
            want_p = res["posterior"][token]
            got_p = obj["posterior"]
            if not isinstance(got_p, list) or len(got_p) != want_p.size or any(v is None for v in got_p):
                problems.append(f"{where}: posterior has {len(got_p) if isinstance(got_p, list) else got_p} "
                                f"values, expected {want_p.size}")
            elif not _close(got_p, want_p):
                bad = int(np.argmax(np.abs(np.asarray(got_p) - want_p) - COMPARE_RTOL * np.abs(want_p)))
                problems.append(f"{where}: posterior[{bad}] = {got_p[bad]}, reference {float(want_p[bad])!r}")
    return problems
