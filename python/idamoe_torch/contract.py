"""Constants of the file contract shared with the Swift side, each with one home here (the Swift homes:
`GateTemperature` and `ReactivationConfig.defaultTau`; Tests/python/test_contract.py holds the two to the
same values through `idamoe schema settings` and docs/schema/run.schema.json)."""
from __future__ import annotations

#: The gate temperature a checkpoint without `idamoe.gate_temperature` means (runs before it existed).
GATE_TEMPERATURE_ABSENT = 1.0
#: The gate temperature of new routers, as `idamoe train` uses for new runs (docs/decisions.md, "Defaults").
GATE_TEMPERATURE_NEW_RUNS = 4.0
#: The allowed range of the gate temperature: (0, GATE_TEMPERATURE_MAX] (the schema's exclusiveMinimum and maximum).
GATE_TEMPERATURE_MAX = 1000.0
#: The range as the Swift side words it in errors.
GATE_TEMPERATURE_RANGE = f"(0, {GATE_TEMPERATURE_MAX:g}]"
#: The dead threshold tau: a component is dead when its usage and prior are both below tau / K (usage
#: alone under a per-expert prior, whose experts' mass is fixed: ReactivationState.isDead in Swift).
TAU = 0.1


def check_gate_temperature(t: float) -> float:
    """`t` as a float when it is in GATE_TEMPERATURE_RANGE, else a ValueError naming the range."""
    import math

    t = float(t)
    if not (math.isfinite(t) and 0 < t <= GATE_TEMPERATURE_MAX):
        raise ValueError(f"gate temperature must be in {GATE_TEMPERATURE_RANGE}, got {t}")
    return t
