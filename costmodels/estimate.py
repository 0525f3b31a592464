"""The cost model's front door: `estimate(network, device, ...)` for either architecture
template, and `estimate_finn` for FINN's own formulas as a baseline."""

from __future__ import annotations

from enum import Enum

from costmodels.dataflow import estimate_dataflow
from costmodels.engines import EngineConfig, estimate_engines
from costmodels.errors import ConfigError
from costmodels.fastpath import estimate_dataflow_fast, resolve_cached
from costmodels.types import Device, Network, NetworkCost


class Template(str, Enum):
    """Accelerator architecture templates."""

    DATAFLOW = "dataflow"  # one streaming unit per layer (FINN, thesis ch. 4, ELB-NN)
    ENGINES = "engines"  # shared MAC engines reused per layer (TwinDNN Fig. 1)


def estimate(
    network: Network,
    device: Device,
    *,
    template: Template = Template.DATAFLOW,
    clock_mhz: float | None = None,
    engines: EngineConfig | None = None,
    detail: bool = False,
) -> NetworkCost:
    """LUT/FF/DSP/BRAM18/URAM, cycles per frame and latency of `network` on `device`.

    The clock is `clock_mhz`, else `network.clock_mhz`, else the device's default.
    `engines` configures the ENGINES template (default `EngineConfig()`); it is rejected
    for DATAFLOW. `detail` fills `LayerCost.breakdown` for every unit (the search leaves
    it off: it is the hot path). Raises `SpecError`/`FoldingError` for inconsistent
    networks.

    Without `detail`, the dataflow template runs `fastpath.estimate_dataflow_fast` (the
    same numbers unit by unit from plain integers, remembering the last unit per layer);
    a network it declines (any error) goes the canonical way, `resolve` then
    `estimate_dataflow`, which raises the canonical message.
    """
    clock = next(c for c in (clock_mhz, network.clock_mhz, device.clock_mhz) if c is not None)
    if not clock > 0:
        raise ConfigError(f"clock {clock} MHz must be positive")
    if template is Template.DATAFLOW:
        if engines is not None:
            raise ConfigError("an EngineConfig only applies to the engines template")
        if not detail:
            fast = estimate_dataflow_fast(network, device, clock)
            if fast is not None:
                return fast
    layers = resolve_cached(network)
    if template is Template.DATAFLOW:
        return estimate_dataflow(network.name, layers, device, clock, detail)
    return estimate_engines(network.name, layers, device, clock, engines or EngineConfig())
