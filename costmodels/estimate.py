"""The cost model's front door: `estimate(network, device, ...)` for either architecture
template, and `estimate_finn` for FINN's own formulas as a baseline."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from costmodels.dataflow import estimate_dataflow
from costmodels.engines import EngineConfig, estimate_engines
from costmodels.errors import ConfigError
from costmodels.network import resolve
from costmodels.types import Device, Network, NetworkCost

if TYPE_CHECKING:
    from costmodels.calibration.profile import Profile


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
    calibration: Profile | None = None,
) -> NetworkCost:
    """LUT/FF/DSP/BRAM18/URAM, cycles per frame and latency of `network` on `device`.

    The clock is `clock_mhz`, else `network.clock_mhz`, else the device's default.
    `engines` configures the ENGINES template (default `EngineConfig()`); it is rejected
    for DATAFLOW. `detail` fills `LayerCost.breakdown` for every unit (the search leaves
    it off: it is the hot path). Raises `SpecError`/`FoldingError` for inconsistent
    networks.

    One path for every caller (the search, `dse estimate`, reports): the template's
    composer over its unit estimators, memoised per unit.

    `calibration` (dataflow only) costs every layer as the FINN nodes a FINN build makes
    of it under that profile (`costmodels.finn_network`; breakdowns list the units by FINN
    op); None keeps the analytical model.
    """
    clock = next(c for c in (clock_mhz, network.clock_mhz, device.clock_mhz) if c is not None)
    if not clock > 0:
        raise ConfigError(f"clock {clock} MHz must be positive")
    if template is Template.DATAFLOW:
        if engines is not None:
            raise ConfigError("an EngineConfig only applies to the engines template")
        if calibration is not None:
            from costmodels.finn_network import estimate_calibrated

            return estimate_calibrated(network, device, clock, calibration)
        return estimate_dataflow(network, device, clock, detail)
    if calibration is not None:
        raise ConfigError("a calibration profile applies to the dataflow template only")
    return estimate_engines(
        network.name, resolve(network), device, clock, engines or EngineConfig()
    )
