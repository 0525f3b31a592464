"""The pair resource model against seed 000 Table 1 (tests/fixtures copy)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from costmodels import get_device
from costmodels.types import Resources
from dse.twin.errors import PairError
from dse.twin.resources import TABLE1, OverheadModel, check_pair_fits, pair_resources

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "twindnn_table1_resources.csv"


def _csv_rows() -> list[dict[str, str]]:
    with FIXTURE.open() as f:
        return list(csv.DictReader(f))


def test_table1_constants_match_the_reference_csv():
    rows = _csv_rows()
    combined = [r for r in rows if "+" in r["precision"]]
    assert [int(r["LUT"]) for r in combined] == [t.combined_lut for t in TABLE1]
    assert [int(r["DSP"]) for r in combined] == [t.combined_dsp for t in TABLE1]
    parts = {(r["dataset"], r["network"], r["precision"]): r for r in rows if r["network"]}
    assert int(parts["CIFAR-10", "ConvNet", "Binary"]["LUT"]) == TABLE1[0].compressed_lut
    assert int(parts["ImageNet", "ResNet-18", "8-bit"]["LUT"]) == TABLE1[2].accurate_lut
    assert int(parts["ImageNet", "MobileNetV2", "Ternary"]["DSP"]) == TABLE1[3].compressed_dsp


def test_overheads_by_hand():
    """63727 - (20110 + 25074) = 18543 LUT; 282 - (274 + 8) = 0 DSP."""
    assert TABLE1[0].overhead_lut == 18543
    assert all(t.overhead_dsp == 0 for t in TABLE1)
    assert TABLE1[1].overhead_lut == 7392 and TABLE1[2].overhead_lut == 7324


def test_default_model_is_the_mean_device_fraction():
    """(18543 + 7392 + 7324) / 70560 / 4 + 31920 / 274080 / 4 = 0.1469..."""
    expect = ((18543 + 7392 + 7324) / 70560 + 31920 / 274080) / 4
    m = OverheadModel.default()
    assert m.lut_device_fraction == pytest.approx(expect)
    assert OverheadModel.parse("mean") == m


@pytest.mark.parametrize("row", TABLE1, ids=lambda r: r.label)
def test_every_paper_pair_predicted_within_13_percent_and_fits(row):
    dev = get_device(row.device)
    total = pair_resources(
        Resources(lut=row.compressed_lut, dsp=row.compressed_dsp),
        Resources(lut=row.accurate_lut, dsp=row.accurate_dsp),
        dev,
    )
    assert total.dsp == row.combined_dsp
    assert abs(total.lut / row.combined_lut - 1) < 0.13
    check_pair_fits(total, dev)  # every design the paper built fits under the default


def test_min_and_max_bound_every_row():
    lo, hi = OverheadModel.parse("min"), OverheadModel.parse("max")
    for row in TABLE1:
        dev = get_device(row.device)
        c, a = Resources(lut=row.compressed_lut), Resources(lut=row.accurate_lut)
        assert pair_resources(c, a, dev, lo).lut <= row.combined_lut + 0.5
        assert pair_resources(c, a, dev, hi).lut >= row.combined_lut - 0.5


def test_pair_that_cannot_fit_names_the_resource():
    dev = get_device("XCZU3EG")
    total = pair_resources(Resources(lut=30000, dsp=8), Resources(lut=40000, dsp=300), dev)
    with pytest.raises(PairError, match=r"LUT .* of 70,560"):
        check_pair_fits(total, dev)
    with pytest.raises(PairError, match="DSP"):
        check_pair_fits(Resources(lut=1000, dsp=400), dev)


@pytest.mark.parametrize("text", ["huge", "device:x", "parts:1.5", "device:-0.1"])
def test_bad_overhead_spec(text: str):
    with pytest.raises(PairError):
        OverheadModel.parse(text)


def test_parts_fraction_model():
    m = OverheadModel.parse("parts:0.25")
    dev = get_device("XCZU3EG")
    assert pair_resources(Resources(lut=100), Resources(lut=300), dev, m).lut == 500
