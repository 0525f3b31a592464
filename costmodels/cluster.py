"""Networks split across several FPGAs (Pan thesis 4.1.2 and 4.2: the Flow-in-Cloud system,
XCKU095/XCKU115 boards in a chain of serial links, one or more layers per board).

A `Cluster` is boards in link order plus the link between neighbours. A design (a network
with every choice made) is placed by `partition`: contiguous layer ranges on consecutive
boards, each range one dataflow pipeline under its own board's budget (its units plus the
board's shell), and the stream crossing each cut - every tensor produced before the cut and
read after it, the main stream and any residual branch - sent over the link.

Throughput = min(the slowest unit's rate, for every cut: link bandwidth / bits per frame
crossing it); latency = the single-pipeline latency plus each cut's link latency and one
frame's serialization at the link rate. `partition` is a dynamic programme over (layers
placed, boards used): exact for contiguous ranges - the fewest boards that hold the design,
and among those the highest link-limited throughput (a max-min recurrence; see
`partition_brute_force`, which enumerates every cut set, for the check).

finn-plus's multi-FPGA flow (`multifpga/aurora/partitioner.py`, `AuroraPartitioner`)
solves placement as an ILP (python-mip): node-on-device binaries, chain order (successors on
the same or the next device), links per device within the QSFP ports, per-device resources
within `max_utilization`, a fixed device count, and a balancing objective (layer count or
utilization near an ideal); link bandwidth is not modelled. On a chain with contiguous
ranges the DP here is exact without a solver, minimises the board count, then maximises
the link-limited throughput.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from costmodels.dataflow import shell_resources
from costmodels.errors import DeviceError
from costmodels.types import Device, NetworkCost, ResolvedLayer, Resources

#: Default link between neighbouring boards: 34 Gbps per port, the FIC system's maximum
#: (Pan thesis 4.1.2: "high-speed serial links that reach up to a maximum communication
#: bandwidth of 34 Gbps per port"; 4.2: the STDM switch "allows the speed to reach up to
#: 34Gbps").
DEFAULT_LINK_GBPS = 34.0
#: Default link latency: 0 (thesis ch. 6: "Communication latency between FPGAs can be
#: ignored"); a cluster YAML may set it.
DEFAULT_LINK_LATENCY_US = 0.0
#: Most boards one cluster may name (the FIC system has "over 20 boards", thesis 4.1.2).
MAX_BOARDS = 64

_RESOURCES = ("lut", "dsp", "bram18", "uram")


@dataclass(frozen=True)
class Link:
    """A serial link between neighbouring boards."""

    gbps: float = DEFAULT_LINK_GBPS
    latency_us: float = DEFAULT_LINK_LATENCY_US


@dataclass(frozen=True)
class Cluster:
    """Boards in link order and the link between neighbours."""

    boards: tuple[Device, ...]
    link: Link = field(default_factory=Link)
    name: str = ""

    @property
    def label(self) -> str:
        """`2xXCKU115`, `XCKU095+XCKU115`: the boards in order, runs collapsed."""
        if self.name:
            return self.name
        runs: list[tuple[str, int]] = []
        for b in self.boards:
            if runs and runs[-1][0] == b.part:
                runs[-1] = (b.part, runs[-1][1] + 1)
            else:
                runs.append((b.part, 1))
        return "+".join(f"{n}x{p}" if n > 1 else p for p, n in runs)

    def aggregate(self) -> Device:
        """The boards' summed totals as one `Device` (for normalising objectives)."""
        first = self.boards[0]
        return Device(
            part=self.label,
            boards=(),
            family=first.family,
            lut=sum(b.lut for b in self.boards),
            ff=sum(b.ff for b in self.boards),
            bram18=sum(b.bram18 for b in self.boards),
            uram=sum(b.uram for b in self.boards),
            dsp=sum(b.dsp for b in self.boards),
            dsp_block=first.dsp_block,
            clock_mhz=min(b.clock_mhz for b in self.boards),
        )


def parse_cluster(text: str) -> Cluster:
    """`2xXCKU115`, `XCKU095,XCKU115`, `3xku115+xcku095`, or a YAML file
    `{boards: [XCKU115, {part: XCKU095, count: 2}, my.yaml], link: {gbps: 34,
    latency_us: 0}}`. Boards are catalog names or device YAML files (`get_device`)."""
    from costmodels.devices import get_device

    raw = text.strip()
    if not raw:
        raise DeviceError("--devices needs at least one board, e.g. 2xXCKU115")
    path = Path(raw)
    if raw.lower().endswith((".yaml", ".yml", ".json")):
        return _cluster_yaml(path)
    boards: list[Device] = []
    for item in re.split(r"[,+]", raw):
        item = item.strip()
        if not item:
            continue
        m = re.fullmatch(r"(\d+)\s*[x*]\s*(.+)", item, flags=re.IGNORECASE)
        count, name = (int(m.group(1)), m.group(2)) if m else (1, item)
        _check_count(count, raw)
        boards.extend([get_device(name)] * count)
    _check_count(len(boards), raw)
    return Cluster(tuple(boards))


def _check_count(n: int, where: str) -> None:
    if not 1 <= n <= MAX_BOARDS:
        raise DeviceError(f"devices {where!r}: board count {n} must be in 1..{MAX_BOARDS}")


def _cluster_yaml(path: Path) -> Cluster:
    import json

    import yaml

    from costmodels.devices import get_device
    from costmodels.reading import read_document

    try:
        data: Any = read_document(path, "cluster file", DeviceError)  # bounded reads
    except (yaml.YAMLError, json.JSONDecodeError):
        raise DeviceError(f"cluster file {str(path)!r} is not valid YAML/JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("boards"), list):
        raise DeviceError(f"cluster file {str(path)!r} needs `boards:` (a list of devices)")
    unknown = set(data) - {"boards", "link", "name"}
    if unknown:
        raise DeviceError(f"cluster file {str(path)!r}: unknown key {sorted(unknown)[0]!r}")
    boards: list[Device] = []
    for item in data["boards"]:
        if isinstance(item, dict):
            if set(item) - {"part", "count"} or "part" not in item:
                raise DeviceError(f"cluster file {str(path)!r}: a board is {{part: X, count: N}}")
            count = item.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int):
                raise DeviceError(f"cluster file {str(path)!r}: count must be an integer")
            _check_count(count, str(path))
            name = str(item["part"])
        else:
            count, name = 1, str(item)
        if not Path(name).is_absolute() and name.lower().endswith((".yaml", ".yml")):
            name = str(path.parent / name)
        boards.extend([get_device(name)] * count)
    _check_count(len(boards), str(path))
    link_raw = data.get("link") or {}
    if not isinstance(link_raw, dict) or set(link_raw) - {"gbps", "latency_us"}:
        raise DeviceError(f"cluster file {str(path)!r}: link is {{gbps: 34, latency_us: 0}}")
    gbps = link_raw.get("gbps", DEFAULT_LINK_GBPS)
    lat = link_raw.get("latency_us", DEFAULT_LINK_LATENCY_US)
    for key, v, ok in (("gbps", gbps, lambda x: x > 0), ("latency_us", lat, lambda x: x >= 0)):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
            or not ok(v)
        ):
            raise DeviceError(f"cluster file {str(path)!r}: link.{key} {v!r} is out of range")
    return Cluster(tuple(boards), Link(float(gbps), float(lat)), str(data.get("name") or ""))


# ----------------------------------------------------------------------------- partition


@dataclass(frozen=True)
class BoardLoad:
    """One board's share: the units [first, last) and their resources with the shell."""

    device: Device
    first: int
    last: int
    resources: Resources

    def utilization(self) -> Resources:
        return self.resources.utilization(self.device)


@dataclass(frozen=True)
class MultiCost:
    """A design placed on a cluster. `boards` is empty when no placement fits; then
    `fits` is false, `utilization` is what the hungriest unit needs of its best board and
    `fps`/`latency_ms` are the unplaced pipeline's (finite, for hypervolume bounds).

    Duck-types the parts of `NetworkCost` a study reads (`total`, `utilization`, `fps`,
    `latency_ms`, `clock_mhz`, `cycles_per_frame`, `layers`)."""

    single: NetworkCost
    cluster: Cluster
    boards: tuple[BoardLoad, ...]
    cut_bits: tuple[int, ...]  # bits per frame crossing each cut (len(boards) - 1)
    fps: float
    latency_ms: float
    utilization: Resources
    layer_names: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return bool(self.boards)

    @property
    def n_boards(self) -> int:
        return len(self.boards)

    @property
    def total(self) -> Resources:
        out = Resources()
        for b in self.boards:
            out = out + b.resources
        return out if self.boards else self.single.total

    @property
    def clock_mhz(self) -> float:
        return self.single.clock_mhz

    @property
    def cycles_per_frame(self) -> int:
        return self.single.cycles_per_frame

    @property
    def layers(self) -> tuple[Any, ...]:
        return self.single.layers

    @property
    def compute_fps(self) -> float:
        return self.single.fps

    def link_load_pct(self) -> tuple[float, ...]:
        """Per cut: bits per frame x the pipeline's compute FPS over the link bandwidth."""
        bw = self.cluster.link.gbps * 1e9
        return tuple(100.0 * bits * self.compute_fps / bw for bits in self.cut_bits)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: boards used, per board its part, layer range and utilization, the
        cuts (after which layer), bits per frame and link load."""
        return {
            "cluster": self.cluster.label,
            "boards_used": self.n_boards,
            "link_gbps": self.cluster.link.gbps,
            "compute_fps": self.compute_fps,
            "boards": [
                {
                    "part": b.device.part,
                    "layers": [self.layer_names[b.first], self.layer_names[b.last - 1]],
                    "util": {k: round(getattr(b.utilization(), k), 2) for k in _RESOURCES},
                }
                for b in self.boards
            ],
            "cuts": [
                {
                    "after": self.layer_names[b.last - 1],
                    "bits_per_frame": bits,
                    "load_pct": round(p, 2),
                }
                for b, bits, p in zip(
                    self.boards, self.cut_bits, self.link_load_pct(), strict=False
                )
            ],
        }


def crossing_bits(layers: Sequence[ResolvedLayer], input_bits: int | None = None) -> list[int]:
    """For each cut position j (1..n-1, between unit j-1 and unit j): bits per frame of
    every tensor produced before j (or the network input, which enters on the first board)
    and read at or after j (`costmodels.network.layer_inputs`: the previous layer, a
    branch's `from`, an add's and a concat's operands)."""
    from costmodels.network import INPUT, layer_inputs

    index = {rl.name: i for i, rl in enumerate(layers)}
    n = len(layers)
    size = {rl.name: math.prod(rl.out_shape) * rl.out_bits for rl in layers}
    if layers:
        first = layers[0]
        size[INPUT] = math.prod(first.in_shape) * (input_bits or first.in_bits)
    reads = layer_inputs(tuple(rl.spec for rl in layers))
    last_read: dict[str, int] = {}
    for k, ins in enumerate(reads):
        for src in ins:
            last_read[src] = max(last_read.get(src, -1), k)
    out = [0] * n  # out[0] unused
    for j in range(1, n):
        out[j] = sum(
            size[src]
            for src, k in last_read.items()
            if k >= j and index.get(src, -1) < j and src in size
        )
    return out


def _fields(r: Resources) -> tuple[float, float, float, float, float]:
    return (r.lut, r.ff, r.dsp, r.bram18, r.uram)


def _fits(res: Resources, device: Device, cap_pct: float) -> bool:
    return res.fits(device, cap_pct)


def _range_resources(prefix: list[Resources], i: int, j: int, shell: Resources) -> Resources:
    p, q = prefix[i], prefix[j]
    return Resources(
        q.lut - p.lut + shell.lut,
        q.ff - p.ff + shell.ff,
        q.dsp - p.dsp + shell.dsp,
        q.bram18 - p.bram18 + shell.bram18,
        q.uram - p.uram + shell.uram,
    )


@dataclass(frozen=True)
class _Plan:
    cuts: tuple[int, ...]  # start index of boards 1.. (board 0 starts at 0)
    link_fps: float


def partition(
    layers: Sequence[ResolvedLayer],
    unit_costs: Sequence[Sequence[Resources]],
    cluster: Cluster,
    cap_pct: float,
) -> _Plan | None:
    """The exact DP (module docstring). `unit_costs[b][i]` is unit i's resources on board b
    (units are priced per device: memory placement and DSP blocks differ). Returns the cut
    positions of the fewest-boards placement with the highest link-limited FPS, or None."""
    n, nb = len(layers), len(cluster.boards)
    bits = crossing_bits(layers)
    bw = cluster.link.gbps * 1e9
    link_fps = [math.inf] + [bw / b if b > 0 else math.inf for b in bits[1:]]
    prefixes: list[list[Resources]] = []
    for b in range(nb):
        acc = [Resources()]
        for r in unit_costs[b]:
            acc.append(acc[-1] + r)
        prefixes.append(acc)
    tables: dict[Device, list[list[bool]]] = {}
    ok: list[list[list[bool]]] = []
    for b, dev in enumerate(cluster.boards):
        if dev not in tables:  # identical boards share one table of fitting ranges
            shell = shell_resources(dev)
            table = [[False] * (n + 1) for _ in range(n + 1)]
            for i in range(n):
                for j in range(i + 1, n + 1):  # a range only grows: stop at the first miss
                    if not _fits(_range_resources(prefixes[b], i, j, shell), dev, cap_pct):
                        break
                    table[i][j] = True
            tables[dev] = table
        ok.append(tables[dev])
    neg = -1.0
    # best[b][i]: highest min link FPS placing units [0, i) on boards [0, b] (all used)
    best = [[neg] * (n + 1) for _ in range(nb)]
    back = [[-1] * (n + 1) for _ in range(nb)]
    for i in range(1, n + 1):
        if ok[0][0][i]:
            best[0][i] = math.inf
    for b in range(1, nb):
        for i in range(1, n + 1):
            for j in range(1, i):
                if best[b - 1][j] == neg or not ok[b][j][i]:
                    continue
                v = min(best[b - 1][j], link_fps[j])
                if v > best[b][i]:
                    best[b][i], back[b][i] = v, j
    for b in range(nb):
        if best[b][n] != neg:
            cuts: list[int] = []
            i, k = n, b
            while k > 0:
                j = back[k][i]
                cuts.append(j)
                i, k = j, k - 1
            return _Plan(tuple(reversed(cuts)), best[b][n])
    return None


def partition_brute_force(
    layers: Sequence[ResolvedLayer],
    unit_costs: Sequence[Sequence[Resources]],
    cluster: Cluster,
    cap_pct: float,
) -> tuple[int, float] | None:
    """Every set of cut positions (2^(n-1) of them, up to len(boards) - 1 cuts): the fewest
    boards that fit and the highest min link FPS among them. For tests on small cases."""
    from itertools import combinations

    n, nb = len(layers), len(cluster.boards)
    bits = crossing_bits(layers)
    bw = cluster.link.gbps * 1e9
    for k in range(nb):
        found = -1.0
        for cuts in combinations(range(1, n), k):
            starts = (0, *cuts)
            ends = (*cuts, n)
            good = True
            for b, (s, e) in enumerate(zip(starts, ends, strict=True)):
                res = Resources()
                for i in range(s, e):
                    res = res + unit_costs[b][i]
                if not _fits(res + shell_resources(cluster.boards[b]), cluster.boards[b], cap_pct):
                    good = False
                    break
            if good:
                v = min([math.inf] + [bw / bits[c] if bits[c] else math.inf for c in cuts])
                found = max(found, v)
        if found >= 0:
            return k + 1, found
    return None


def estimate_cluster(
    resolved: Sequence[ResolvedLayer],
    single_by_board: Sequence[NetworkCost],
    cluster: Cluster,
    cap_pct: float,
) -> MultiCost:
    """Place a design (its per-board single-pipeline estimates, one per board of
    `cluster`, same units in the same order) on the cluster (module docstring)."""
    single = single_by_board[0]
    unit_costs = [[lc.resources for lc in s.layers] for s in single_by_board]
    names = tuple(lc.name for lc in single.layers)
    plan = partition(resolved, unit_costs, cluster, cap_pct)
    if plan is None:
        # no placement: report, per resource, what the hungriest unit needs of the board
        # that suits it best (with the shell); the study's `boards` constraint says "no fit"
        worst = [0.0] * 5
        for i in range(len(names)):
            options = [
                (single_by_board[b].layers[i].resources + shell_resources(d)).utilization(d)
                for b, d in enumerate(cluster.boards)
            ]
            u = min(options, key=lambda r: max(getattr(r, k) for k in _RESOURCES))
            worst = [max(w, v) for w, v in zip(worst, _fields(u), strict=True)]
        # FPS and latency of the unplaced pipeline (finite, for bounds); `fits` is false
        fps0, lat0 = single.fps, single.latency_ms
        return MultiCost(single, cluster, (), (), fps0, lat0, Resources(*worst), names)
    starts = (0, *plan.cuts)
    ends = (*plan.cuts, len(names))
    loads = []
    for b, (s, e) in enumerate(zip(starts, ends, strict=True)):
        res = Resources()
        for i in range(s, e):
            res = res + unit_costs[b][i]
        loads.append(BoardLoad(cluster.boards[b], s, e, res + shell_resources(cluster.boards[b])))
    bits = crossing_bits(resolved)
    cut_bits = tuple(bits[c] for c in plan.cuts)
    fps = min(single.fps, plan.link_fps)
    bw = cluster.link.gbps * 1e9
    extra_ms = sum(cluster.link.latency_us * 1e-3 + b / bw * 1e3 for b in cut_bits)
    util = Resources(
        *(max(col) for col in zip(*(_fields(ld.utilization()) for ld in loads), strict=True))
    )
    return MultiCost(
        single, cluster, tuple(loads), cut_bits, fps, single.latency_ms + extra_ms, util, names
    )
