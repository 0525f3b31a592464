"""The folding export checked against FINN itself (slow): FINN's own step_convert_to_hw
transformations and SpecializeLayers turn the design's streamlined graph into hardware
nodes, and FINN's GiveUniqueNodeNamesRecursive + ApplyConfig (step_apply_folding_config)
apply the exported JSON: every node must receive its values, with no "Unused HW
configurations" and no "No HW configuration for nodes" warning.

FINN runs in a subprocess with finn-plus 1.6.1 and qonnx 1.0.0 installed `--no-deps` into a
cache folder (`DSE_FINN_SITE`, default runs/finn-site; FINN's heavy pins are not needed for
these transformations). Skips with the reason where pip cannot get them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from costmodels.devices import get_device
from costmodels.network import resolve
from costmodels.types import LayerChoice, LayerSpec, Network, Op
from costmodels.zoo import cnv_network
from dse.finn_folding import folding_config

pytestmark = pytest.mark.slow
pytest.importorskip("onnx", reason="the onnx extra is not installed")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FINN_PKGS = [
    "finn-plus==1.6.1",
    "qonnx==1.0.0",
    "toposort",
    "bitstring",
    "tibs",
    "onnxruntime",
    "onnxscript",
    "onnx-ir",
]
#: modules FINN imports that the dev environment may lack; installed with their deps
EXTRA = {"pydantic": "pydantic", "jinja2": "jinja2", "click": "click", "scipy": "scipy"}
PARTS = {"XC7Z020": "xc7z020clg400-1", "XCZU7EV": "xczu7ev-ffvc1156-2-e"}


@pytest.fixture(scope="module")
def finn_site() -> Path:
    site = Path(os.environ.get("DSE_FINN_SITE", REPO / "runs" / "finn-site"))
    done = site / ".dse-installed"
    if not done.is_file():
        site.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "install", "-q", "--target", str(site)]
        try:
            r = subprocess.run(
                [*pip, "--no-deps", *FINN_PKGS], capture_output=True, text=True, timeout=900
            )
            missing = [p for m, p in EXTRA.items() if importlib.util.find_spec(m) is None]
            if r.returncode == 0 and missing:
                r = subprocess.run([*pip, *missing], capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"cannot install finn-plus for the FINN check: {exc}")
        if r.returncode != 0:
            last = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["pip failed"]
            pytest.skip(f"cannot install finn-plus 1.6.1 from the package index: {last[0]}")
        _complete_imports(site, pip)
        done.write_text("ok\n")
    return site


def _complete_imports(site: Path, pip: list[str]) -> None:
    """Import what the helper imports; install each module a fresh environment lacks
    (FINN's own dependency list pins far more than these transformations use)."""
    probe = (
        "import finn.transformation.general, finn.transformation.fpgadataflow.specialize_layers,"
        " finn.transformation.fpgadataflow.convert_to_hw.pool,"
        " finn.custom_op.fpgadataflow.hls, finn.custom_op.fpgadataflow.rtl"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    for _ in range(12):
        r = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300
        )
        if r.returncode == 0:
            return
        missing = re.search(r"No module named '([^'.]+)", r.stderr)
        if missing is None:
            pytest.skip(f"FINN does not import here: {r.stderr.strip().splitlines()[-1]}")
        module = missing.group(1)
        name = {"yaml": "pyyaml", "google": "protobuf"}.get(module, module.replace("_", "-"))
        if subprocess.run([*pip, name], capture_output=True, timeout=900).returncode != 0:
            pytest.skip(f"FINN needs {name!r}, which pip cannot install here")
    pytest.skip("FINN's imports did not settle after installing 12 modules")


def finn_request(net: Network, part: str, config: dict[str, Any], **opts: Any) -> dict[str, Any]:
    """The design as the layer list the helper builds FINN's streamlined graph from."""
    layers: list[dict[str, Any]] = []
    shape: tuple[int, ...] = net.input_shape
    for rl in resolve(net):
        c = rl.choice
        if rl.op is Op.CONV:
            layers.append(
                dict(
                    kind="conv",
                    kernel=rl.spec.kernel,
                    stride=rl.spec.stride or 1,
                    padding=rl.spec.padding,
                    mw=rl.mw,
                    out_channels=rl.mh,
                    w_bits=c.w_bits,
                    w_type=c.weight_type.value,
                    a_bits=c.a_bits,
                    out_h=rl.out_shape[1],
                    out_w=rl.out_shape[2],
                )
            )
        elif rl.op is Op.DENSE:
            if len(shape) == 3 and shape[1] * shape[2] > 1:
                layers.append(dict(kind="flatten"))
            layers.append(
                dict(
                    kind="dense",
                    mw=rl.mw,
                    out_channels=rl.mh,
                    w_bits=c.w_bits,
                    w_type=c.weight_type.value,
                    a_bits=c.a_bits,
                    out_h=1,
                    out_w=1,
                )
            )
        elif rl.op is Op.MAXPOOL:
            layers.append(
                dict(
                    kind="maxpool",
                    kernel=rl.spec.kernel,
                    stride=rl.spec.stride or rl.spec.kernel,
                    out_h=rl.out_shape[1],
                    out_w=rl.out_shape[2],
                )
            )
        else:
            raise AssertionError(f"the FINN check builds no {rl.op.value} layers")
        shape = rl.out_shape
    return {
        "input_shape": list(net.input_shape),
        "input_bits": net.input_bits,
        "layers": layers,
        "fpgapart": PARTS[part],
        "standalone_thresholds": opts.get("standalone_thresholds", False),
        "label_select": opts.get("label_select", True),
        "config": config,
    }


def apply_in_finn(site: Path, tmp_path: Path, request: dict[str, Any]) -> dict[str, Any]:
    req = tmp_path / "request.json"
    req.write_text(json.dumps(request))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    r = subprocess.run(
        [sys.executable, str(HERE / "finn_apply_helper.py"), str(req)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def assert_applied_cleanly(result: dict[str, Any], config: dict[str, Any]) -> None:
    assert result["warnings"] == []
    names = [n["name"] for n in result["nodes"]]
    assert sorted(names) == sorted(k for k in config if k != "Defaults")
    for node in result["nodes"]:
        assert node["attrs"] == config[node["name"]], node["name"]


def test_cnv_export_applies_in_finn(finn_site: Path, tmp_path: Path) -> None:
    net = cnv_network()
    config = folding_config(net, get_device("XC7Z020")).config
    result = apply_in_finn(finn_site, tmp_path, finn_request(net, "XC7Z020", config))
    assert_applied_cleanly(result, config)
    ops = [n["op_type"] for n in result["nodes"]]
    assert ops.count("MVAU_hls") == 9 and ops.count("LabelSelect_hls") == 1
    assert ops.count("ConvolutionInputGenerator_rtl") == 8  # 6 convs + 2 pool windows
    # the negative control: FINN does warn when an entry is missing or unused
    broken = dict(config)
    broken.pop("MVAU_hls_3")
    broken["MVAU_hls_99"] = {"PE": 1}
    result = apply_in_finn(finn_site, tmp_path, finn_request(net, "XC7Z020", broken))
    text = " ".join(result["warnings"])
    assert "No HW configuration for nodes: MVAU_hls_3" in text
    assert "Unused HW configurations: MVAU_hls_99" in text


def test_rtl_mvau_padding_and_standalone_thresholds_apply_in_finn(
    finn_site: Path, tmp_path: Path
) -> None:
    ch = LayerChoice(w_bits=4, a_bits=4, pe=4, simd=4)
    net = Network(
        "n",
        (4, 10, 10),
        8,
        (
            LayerSpec("c0", Op.CONV, out_channels=16, kernel=3, padding=1, choice=ch),
            LayerSpec("p0", Op.MAXPOOL, kernel=2),
            LayerSpec(
                "c1", Op.CONV, out_channels=16, kernel=3, choice=LayerChoice(8, 4, pe=8, simd=16)
            ),
            LayerSpec("fc", Op.DENSE, out_channels=10, choice=LayerChoice(8, None, pe=5, simd=8)),
        ),
    )
    for standalone in (False, True):
        config = folding_config(net, get_device("XCZU7EV"), standalone_thresholds=standalone).config
        request = finn_request(net, "XCZU7EV", config, standalone_thresholds=standalone)
        result = apply_in_finn(finn_site, tmp_path, request)
        assert_applied_cleanly(result, config)
        ops = [n["op_type"] for n in result["nodes"]]
        assert "FMPadding_rtl" in ops and "MVAU_rtl" in ops
        assert ("Thresholding_rtl" in ops) is standalone


def test_qonnx_model_search_export_applies_in_finn(
    finn_site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Done-when of issue 14: a QONNX model goes dse estimate -> dse search -> dse export
    --format finn-folding, and the JSON applies cleanly in FINN's ApplyConfig."""
    sys.path.insert(0, str(REPO / "tests" / "onnx_in"))
    from qonnx_graphs import small_cnv

    from dse.cli import main
    from dse.spec import load_network

    model = small_cnv(tmp_path / "m.onnx", dynamo=True)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["estimate", str(model), "--device", "XC7Z020"]) == 0
    assert "features.0" in capsys.readouterr().out
    assert (
        main(
            [
                "search",
                "--workload",
                str(model),
                "--device",
                "XC7Z020",
                "--storage",
                url,
                "--trials",
                "30",
                "--study",
                "m",
                "--json",
            ]
        )
        == 0
    )
    front = json.loads(capsys.readouterr().out)["pareto"]
    for p in front[:3]:
        out = tmp_path / f"fold{p['trial']}.json"
        assert (
            main(
                [
                    "export",
                    "--storage",
                    url,
                    "--trial",
                    str(p["trial"]),
                    "--format",
                    "finn-folding",
                    "-o",
                    str(out),
                ]
            )
            == 0
        )
        config = json.loads(out.read_text())
        design = load_network(out.with_name(f"{out.stem}.spec.yaml"))
        result = apply_in_finn(finn_site, tmp_path, finn_request(design, "XC7Z020", config))
        assert_applied_cleanly(result, config)
