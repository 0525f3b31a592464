"""The table of bad inputs (docs/reliability.md lists the same rows, with what each gets).

Each case is a `dse` command line run against files it writes into a scratch folder
(`{dir}` in arguments is that folder, `{db}` a fresh SQLite study URL there, `{study_db}`
a storage holding study `s` made by a short cost-only search on tfc-w1a1). The CLI must
answer with one line `error: ...` on stderr containing `expect`, the exit code `code`
(2: usage error the user can fix; 1: run-time/storage problem), and no traceback; `code=0`
rows are inputs that are odd but valid and must succeed cleanly.
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TFC = str(REPO / "examples" / "tfc-w1a1.yaml")

_GOOD = """name: t
input: {shape: [64], bits: 8}
layers:
- {name: fc0, op: dense, out_features: 32, w_bits: 4, a_bits: 4, pe: 4, simd: 4}
- {name: fc1, op: dense, out_features: 10, w_bits: 4, a_bits: null, pe: 2, simd: 4}
"""


def _spec(**fc0: object) -> str:
    """The good spec with fc0's keys replaced/added (YAML flow mapping)."""
    base: dict[str, object] = {
        "name": "fc0",
        "op": "dense",
        "out_features": 32,
        "w_bits": 4,
        "a_bits": 4,
        "pe": 4,
        "simd": 4,
    }
    for key, value in fc0.items():
        if value is _DROP:
            base.pop(key, None)
        else:
            base[key] = value
    items = ", ".join(f"{k}: {_yaml(v)}" for k, v in base.items())
    return (
        "name: t\ninput: {shape: [64], bits: 8}\nlayers:\n"
        f"- {{{items}}}\n"
        "- {name: fc1, op: dense, out_features: 10, w_bits: 4, a_bits: null, pe: 2, simd: 4}\n"
    )


_DROP = object()

_BOMB = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, a in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
"""The "billion laughs": 9 anchors, each a list of 9 aliases of the one before (9^9 values)."""
_DEEP_YAML = "name: t\nlayers: " + "[" * 50_000 + "]" * 50_000 + "\n"
_DEEP_JSON = '{"name": "t", "layers": ' + "[" * 50_000 + "]" * 50_000 + "}"
_HUGE_NET = "name: t\ninput: {shape: [8], bits: 8}\nlayers:\n" + "".join(
    f"- {{name: l{i}, op: dense, out_features: 8, w_bits: 2, a_bits: 2}}\n" for i in range(10_001)
)


def _npz(**arrays: object) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _npz_data(y_train: object) -> bytes:
    x = np.zeros((8, 4), dtype=np.float32)
    return _npz(x_train=x, y_train=y_train, x_val=x, y_val=np.arange(8) % 2)


def _npz_header_lie() -> bytes:
    """An .npz whose one array's header claims 10^6 x 10^6 floats (4 TB) over 16 bytes."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    blob = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(16)
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x_train.npy", blob)
    return buf.getvalue()


def _foreign_sqlite() -> bytes:
    """A database somebody else made that happens to have a `studies` table."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "theirs.db"
        conn = sqlite3.connect(path)
        conn.execute("create table studies (id integer primary key, title text)")
        conn.execute("insert into studies (title) values ('field notes')")
        conn.commit()
        conn.close()
        return path.read_bytes()


def _onnx_model(
    *, location: str | None = None, length: int | None = None, dims: tuple[int, ...] = (4, 2)
) -> bytes:
    """A one-MatMul ONNX model whose weight is stored externally at `location` (with a
    claimed `length`), or inline with the claimed `dims` over 32 bytes of data."""
    from onnx import TensorProto, helper

    w = TensorProto(name="w", data_type=TensorProto.FLOAT)
    w.dims.extend(dims)
    if location is None:
        w.raw_data = bytes(32)
    else:
        w.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("length", length)):
            if value is not None:
                entry = w.external_data.add()
                entry.key, entry.value = key, str(value)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[w],
    )  # fmt: skip
    return helper.make_model(graph).SerializeToString()  # type: ignore[no-any-return]


def _finn_model(op: str, **attrs: object) -> bytes:
    """A one-node FINN hardware model (`--finn-model` of `dse export`): node `op` in FINN's
    dataflow domain with the given attributes, however wrong their types."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node(op, ["a"], ["e"], domain="finn.custom_op.fpgadataflow", **attrs)],
        "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)],
    )  # fmt: skip
    return helper.make_model(graph).SerializeToString()  # type: ignore[no-any-return]


def _finn_export(model: str) -> tuple[str, ...]:
    return ("export", "--storage", "{study_db}", "--trial", "0", "--format", "finn-folding",
            "--finn-model", model)  # fmt: skip


def _yaml(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


@dataclass(frozen=True)
class Case:
    id: str
    what: str  # the docs table's first column
    args: tuple[str, ...]
    expect: str  # a fragment of the one-line error
    code: int = 2
    files: dict[str, str | bytes] = field(default_factory=dict)


def _est(spec: str, *extra: str) -> tuple[str, ...]:
    return ("estimate", spec, "--device", "XC7Z020", *extra)


def _search(*extra: str, workload: str = TFC) -> tuple[str, ...]:
    return (
        "search",
        "--workload",
        workload,
        "--device",
        "XC7Z020",
        "--storage",
        "{db}",
        "--trials",
        "3",
        *extra,
    )


# fmt: off
CASES: tuple[Case, ...] = (
    # --- files that do not parse
    Case("yaml-duplicate-key", "a YAML mapping naming `name` twice", _est("{dir}/d.yaml"),
         "duplicate key 'name'",
         files={"d.yaml": _GOOD.replace("{name: fc0,", "{name: fc0, name: fc9,")}),
    Case("json-duplicate-key", "a JSON object naming `layers` twice", _est("{dir}/d.json"),
         "names the key 'layers' twice",
         files={"d.json": '{"name": "t", "layers": [], "layers": [], "input": {}}'}),
    Case("yaml-malformed", "malformed YAML spec (unclosed bracket)",
         _est("{dir}/bad.yaml"), "not valid YAML",
         files={"bad.yaml": "name: t\ninput: {shape: [64, bits: 8\nlayers: []\n"}),
    Case("yaml-binary", "binary garbage as spec", _est("{dir}/junk.yaml"), "spec",
         files={"junk.yaml": bytes(range(256)) * 4}),
    Case("yaml-list-top", "spec that is a YAML list, not a mapping",
         _est("{dir}/list.yaml"), "must be a mapping", files={"list.yaml": "- 1\n- 2\n"}),
    Case("json-malformed", "malformed JSON spec", _est("{dir}/bad.json"), "not valid",
         files={"bad.json": '{"name": "t", "layers": [}'}),
    Case("config-malformed", "malformed YAML study config",
         ("search", "--config", "{dir}/c.yaml", "--storage", "{db}"), "not valid YAML",
         files={"c.yaml": "workload: [a\n"}),
    Case("spec-missing", "spec file that does not exist", _est("{dir}/nope.yaml"), "not found"),
    # --- unknown keys, with suggestions
    Case("spec-key-typo", "unknown spec key `out_feature` (typo)",
         _est("{dir}/s.yaml"), "did you mean 'out_features'",
         files={"s.yaml": _spec(out_features=_DROP, out_feature=32)}),
    Case("spec-key-other-op", "conv key `out_channels` on a dense layer",
         _est("{dir}/s.yaml"), "did you mean 'out_features'",
         files={"s.yaml": _spec(out_features=_DROP, out_channels=32)}),
    Case("config-key-typo", "unknown config key `objectivs`",
         ("search", "--config", "{dir}/c.yaml", "--storage", "{db}"),
         "did you mean 'objectives'", files={"c.yaml": f"workload: {TFC}\nobjectivs: lut\n"}),
    Case("config-space-key", "unknown space key `max_pee`",
         ("search", "--config", "{dir}/c.yaml", "--storage", "{db}"), "did you mean 'max_pe'",
         files={"c.yaml": f"workload: {TFC}\nspace: {{max_pee: 4}}\n"}),
    Case("op-unknown", "unknown layer op `dense2`", _est("{dir}/s.yaml"), "did you mean 'dense'",
         files={"s.yaml": _spec(op="dense2")}),
    # --- wrong types
    Case("type-out-features", "`out_features: \"64\"` (a string)",
         _est("{dir}/s.yaml"), "must be an integer", files={"s.yaml": _spec(out_features="64")}),
    Case("type-bool-bits", "`w_bits: true` (bool)", _est("{dir}/s.yaml"),
         "must be an integer", files={"s.yaml": _spec(w_bits=True)}),
    Case("type-float-pe", "`pe: 2.5` (float)", _est("{dir}/s.yaml"), "must be an integer",
         files={"s.yaml": _spec(pe=2.5)}),
    Case("type-config-trials", "config `trials: many`",
         ("search", "--config", "{dir}/c.yaml", "--storage", "{db}"), "config",
         files={"c.yaml": f"workload: {TFC}\ntrials: many\n"}),
    Case("type-config-storage", "config `storage: 12` under `--storage` on the command line",
         _search("--config", "{dir}/c.yaml"), "storage must be text, got 12 (int)",
         files={"c.yaml": "storage: 12\n"}),
    Case("type-config-trials-hidden", "config `trials: many` under `--trials 3`",
         _search("--config", "{dir}/c.yaml"), "invalid literal for int()",
         files={"c.yaml": "trials: many\n"}),
    Case("type-config-space-hidden", "config `space: {max_pe: abc}` under `--max-pe 4`",
         _search("--config", "{dir}/c.yaml", "--max-pe", "4"), "space.max_pe:",
         files={"c.yaml": "space: {max_pe: abc}\n"}),
    Case("type-cli-trials", "`--trials many`", _search("--trials", "many"), "--trials"),
    Case("type-shape", "input shape `[64, -3]`", _est("{dir}/s.yaml"), "shape",
         files={"s.yaml": _GOOD.replace("[64]", "[64, -3]")}),
    # --- unknown names
    Case("device-unknown", "unknown device `XC7Z02O` (letter O)",
         ("estimate", TFC, "--device", "XC7Z02O"), "XC7Z02O"),
    Case("device-search", "unknown device in a search", _search("--device", "ZU99"), "ZU99"),
    Case("objective-unknown", "unknown objective `fsp`", _search("--objectives", "lut,fsp"),
         "did you mean 'fps'"),
    Case("objective-twice", "objective listed twice", _search("--objectives", "lut,lut"),
         "twice"),
    Case("objective-accuracy-cost-only", "accuracy objective on a hardware-only spec",
         _search("--objectives", "accuracy,lut"), "hardware-only"),
    Case("sampler-unknown", "unknown sampler `tpee`", _search("--sampler", "tpee"),
         "did you mean 'tpe'"),
    Case("arith-unknown", "unknown arithmetic `dspp`", _search("--arith", "dspp"),
         "did you mean 'dsp'"),
    Case("storage-mode-unknown", "unknown storage mode `fast`",
         _search("--storage-mode", "fast"), "storage mode"),
    Case("workload-unknown", "unknown built-in workload", _search(workload="digits-rnn"),
         "digits-rnn"),
    # --- folding and ranges
    Case("fold-pe-non-divisor", "PE 7 does not divide 32 output features",
         _est("{dir}/s.yaml"), "pe", files={"s.yaml": _spec(pe=7)}),
    Case("fold-simd-non-divisor", "SIMD 5 does not divide 64 inputs",
         _est("{dir}/s.yaml"), "simd", files={"s.yaml": _spec(simd=5)}),
    Case("fold-pe-zero", "`pe: 0`", _est("{dir}/s.yaml"), "pe", files={"s.yaml": _spec(pe=0)}),
    Case("bits-zero", "`w_bits: 0`", _est("{dir}/s.yaml"), "bits",
         files={"s.yaml": _spec(w_bits=0)}),
    Case("bits-huge", "`a_bits: 64`", _est("{dir}/s.yaml"), "bits",
         files={"s.yaml": _spec(a_bits=64)}),
    Case("bits-range-cli", "`--w-bits 0-40`", _search("--w-bits", "0-40"), "bits"),
    Case("bits-range-text", "`--w-bits two`", _search("--w-bits", "two"), "two"),
    Case("prune-one", "`prune: 1.0` (would remove every channel)", _est("{dir}/s.yaml"),
         "prune", files={"s.yaml": _spec(prune=1.0)}),
    Case("prune-negative", "`prune: -0.5`", _est("{dir}/s.yaml"), "prune",
         files={"s.yaml": _spec(prune=-0.5)}),
    Case("prune-cli", "`--prune 0,1.5`", _search("--prune", "0,1.5"), "prune"),
    Case("cap-zero", "`--cap 0`", _search("--cap", "0"), "cap"),
    Case("cap-over", "`--cap 150`", _search("--cap", "150"), "cap"),
    Case("trials-zero", "`--trials 0`", _search("--trials", "0"), "trials"),
    Case("timeout-negative", "`--timeout -1`", _search("--timeout", "-1"), "timeout"),
    Case("max-pe-zero", "`--max-pe 0`", _search("--max-pe", "0"), "pe"),
    Case("min-accuracy-range", "`--min-accuracy 90` (percent, not fraction)",
         _search("--min-accuracy", "90"), "min_accuracy"),
    Case("clock-negative", "`clock_mhz: -100` in a spec", _est("{dir}/s.yaml"), "clock_mhz",
         files={"s.yaml": _GOOD.replace("layers:", "clock_mhz: -100\nlayers:", 1)}),
    Case("fits-nothing", "space whose smallest design cannot fit (`--cap 0.01`)",
         _search("--cap", "0.01"), "impossible constraints"),
    # --- sizes
    Case("net-empty", "network with no layers", _est("{dir}/s.yaml"), "no layers",
         files={"s.yaml": "name: t\ninput: {shape: [64], bits: 8}\nlayers: []\n"}),
    Case("net-huge-layer", "a 10^12-neuron dense layer", _est("{dir}/s.yaml"), "",
         code=0, files={"s.yaml": _spec(out_features=10**12, pe=1, simd=1)}),
    Case("net-2k-layers", "2,000 dense layers (`--json`)", (*_est("{dir}/s.yaml"), "--json"),
         "", code=0,
         files={"s.yaml": "name: t\ninput: {shape: [8], bits: 8}\nlayers:\n" + "".join(
             f"- {{name: l{i}, op: dense, out_features: 8, w_bits: 2, a_bits: 2}}\n"
             for i in range(2000))}),
    # --- study names and storages
    Case("study-newline", "study name with a newline", _search("--study", "a\nb"),
         "control character"),
    Case("study-long", "study name of 2,000 characters", _search("--study", "x" * 2000),
         "at most 512"),
    Case("study-empty", "empty study name `--study ''` (the default name is used)",
         _search("--study", ""), "", code=0),
    Case("study-missing", "report of a study that does not exist",
         ("report", "--storage", "{study_db}", "--study", "nosuch"), "no study named"),
    Case("trial-missing", "report of trial 99999", ("report", "--storage", "{study_db}",
         "--study", "s", "--trial", "99999"), "has no trial 99999"),
    Case("resume-changed", "resume with a changed configuration (`--max-pe 4`)",
         ("search", "--workload", TFC, "--device", "XC7Z020", "--storage", "{study_db}",
          "--study", "s", "--trials", "3", "--max-pe", "4"),
         "created with a different configuration"),
    Case("storage-url", "storage URL `foo://bar`", _search("--storage", "foo://bar"),
         "storage", code=1),
    Case("storage-no-folder", "SQLite file in a folder that does not exist",
         _search("--storage", "sqlite:///{dir}/no/such/dir/x.db"), "does not exist", code=1),
    Case("storage-unreachable", "PostgreSQL server that is not there (port 1)",
         _search("--storage", "postgresql://postgres@127.0.0.1:1/test"), "cannot open storage",
         code=1),
    Case("storage-text-file", "a text file given as storage",
         _search("--storage", "sqlite:///{dir}/notes.txt"), "not a SQLite database", code=1,
         files={"notes.txt": "not a database\n" * 100}),
    Case("option-unknown", "unknown option `--trails`", _search("--trails", "5"), "trails"),
    Case("jobs-zero", "`--jobs 0`", _search("--jobs", "0"), "jobs"),
    # --- resource exhaustion (costmodels.reading, costmodels.validate)
    Case("yaml-alias-bomb", "YAML alias bomb (\"billion laughs\") as spec",
         _est("{dir}/bomb.yaml"), "alias bomb", files={"bomb.yaml": _BOMB}),
    Case("device-alias-bomb", "YAML alias bomb as device file",
         ("estimate", TFC, "--device", "{dir}/dev.yaml"), "alias bomb",
         files={"dev.yaml": _BOMB}),
    Case("config-alias-bomb", "YAML alias bomb as study config",
         ("search", "--config", "{dir}/c.yaml", "--storage", "{db}"), "alias bomb",
         files={"c.yaml": _BOMB}),
    Case("yaml-deep", "YAML nested 50,000 deep", _est("{dir}/deep.yaml"), "nested deeper",
         files={"deep.yaml": _DEEP_YAML}),
    Case("json-deep", "JSON nested 50,000 deep", _est("{dir}/deep.json"), "nested deeper",
         files={"deep.json": _DEEP_JSON}),
    Case("spec-dev-zero", "`/dev/zero` as spec", _est("/dev/zero"), "not a regular file"),
    Case("net-10k-layers", "a 10,001-layer network", _search(workload="{dir}/big.yaml"),
         "at most 2,048", files={"big.yaml": _HUGE_NET}),
    Case("bits-range-huge", "`--w-bits 1-100000000000`", _search("--w-bits", "1-100000000000"),
         "too wide"),
    Case("out-features-401-digits", "401-digit `out_features`", _est("{dir}/s.yaml"),
         "larger than", files={"s.yaml": _spec(out_features=int("9" * 401))}),
    Case("npz-header-lie", "`.npz` whose array header claims 4 TB",
         ("evaluate", "--workload", "{dir}/d.npz"), "inflates", files={"d.npz": _npz_header_lie()}),
    # --- non-finite and out-of-range numbers
    Case("clock-inf-spec", "`clock_mhz: .inf` in a spec", _est("{dir}/s.yaml"), "clock_mhz",
         files={"s.yaml": _GOOD.replace("layers:", "clock_mhz: .inf\nlayers:", 1)}),
    Case("clock-inf-cli", "`--clock-mhz inf`", _search("--clock-mhz", "inf"), "finite"),
    Case("clock-inf-estimate", "`dse estimate --clock-mhz inf`",
         (*_est(TFC), "--clock-mhz", "inf"), "finite"),
    Case("timeout-nan", "`--timeout nan`", _search("--timeout", "nan"), "finite"),
    Case("seed-negative", "`--seed -1`", _search("--seed", "-1"), "seed"),
    Case("seed-2-64", "`--seed 18446744073709551616` (2^64)",
         _search("--seed", str(2**64)), "seed"),
    Case("npz-nan-labels", "NaN labels in an `.npz`", ("evaluate", "--workload", "{dir}/d.npz"),
         "integer class labels",
         files={"d.npz": _npz_data(np.array([0, 1, np.nan, 1, 0, 1, 0, 1]))}),
    Case("npz-string-labels", "string labels in an `.npz`",
         ("evaluate", "--workload", "{dir}/d.npz"), "integer class labels",
         files={"d.npz": _npz_data(np.array(["a", "b"] * 4))}),
    # --- terminal control characters
    Case("name-escape", "layer name holding an ESC sequence", _est("{dir}/s.yaml"),
         "control character", files={"s.yaml": _spec(name="fc\\e[31m0")}),
    Case("name-nul", "layer name holding NUL", _est("{dir}/s.yaml"), "control character",
         files={"s.yaml": _spec(name="fc\\0")}),
    # --- odd storages and other people's files
    Case("storage-memory", "`sqlite:///:memory:` as storage",
         _search("--storage", "sqlite:///:memory:"), "in-memory", code=1),
    Case("storage-memory-bare", "`sqlite://` as storage", _search("--storage", "sqlite://"),
         "in-memory", code=1),
    Case("storage-sqlite-uri", "SQLite URI options `?uri=true&mode=memory` in a storage URL",
         _search("--storage", "sqlite:///{dir}/m.db?uri=true&mode=memory"), "URI options",
         code=1),
    Case("storage-sqlite-mode", "`?mode=ro` without `uri=true` (SQLite never sees it)",
         _search("--storage", "sqlite:///{dir}/m.db?mode=ro"), "query option mode", code=1),
    Case("storage-sqlite-timeout", "`dse report` on `?timeout=1` (dse sets 30 s itself)",
         ("report", "--storage", "{study_db}?timeout=1"), "query option timeout", code=1),
    Case("storage-char-device", "a character device as storage (`/dev/null`)",
         _search("--storage", "sqlite:////dev/null"), "not a regular file", code=1),
    Case("storage-foreign", "a foreign SQLite database with a `studies` table",
         _search("--storage", "sqlite:///{dir}/theirs.db"), "did not create", code=1,
         files={"theirs.db": _foreign_sqlite()}),
    Case("export-onto-storage", "`dse export -o` onto the study's own database",
         ("export", "--storage", "{study_db}", "--trial", "0", "-o", "{study_path}"),
         "study's storage"),
    Case("plot-onto-storage", "`dse report --plot` onto the study's database (`.png` name)",
         ("report", "--storage", "sqlite:///{dir}/s.png", "--plot", "{dir}/s.png"),
         "study's storage", files={"s.png": b""}),
    Case("plot-extension", "`--plot front.gif` (unknown extension)",
         ("report", "--storage", "{study_db}", "--plot", "{dir}/front.gif"), "extension"),
    Case("export-dev-full", "`dse export -o /dev/full` (the write fails)",
         ("export", "--storage", "{study_db}", "--trial", "0", "-o", "/dev/full"),
         "No space left", code=1),
    # --- ONNX/QONNX models (costmodels.reading limits through dse.onnx_import)
    Case("onnx-garbage", "random bytes as an `.onnx` model", _est("{dir}/m.onnx"),
         "not an ONNX model", files={"m.onnx": bytes(range(256)) * 4}),
    Case("onnx-external-escape", "ONNX external weights at `../../etc/passwd`",
         _est("{dir}/m.onnx"), "outside the model's folder",
         files={"m.onnx": _onnx_model(location="../../etc/passwd")}),
    Case("onnx-external-absolute", "ONNX external weights at `/dev/zero`",
         _est("{dir}/m.onnx"), "must be a file beside it",
         files={"m.onnx": _onnx_model(location="/dev/zero")}),
    Case("onnx-external-length", "ONNX external weights claiming 4 TiB of a 64-byte file",
         _est("{dir}/m.onnx"), "which holds",
         files={"m.onnx": _onnx_model(location="w.bin", length=4 << 40), "w.bin": bytes(64)}),
    Case("onnx-dims", "ONNX weight whose dims claim 2^80 floats", _est("{dir}/m.onnx"),
         "over the 1,024 MiB limit", files={"m.onnx": _onnx_model(dims=(1 << 40, 1 << 40))}),
    Case("finn-model-attr-type", "`--finn-model` whose MVAU has `noActivation: \"x\"`",
         _finn_export("{dir}/hw.onnx"), "cannot read the FINN model (ValueError",
         files={"hw.onnx": _finn_model("MVAU", noActivation="x", weightDataType="INT8",
                                       inputDataType="INT8")}),
    Case("finn-model-attr-utf8", "`--finn-model` whose `weightDataType` is not UTF-8",
         _finn_export("{dir}/hw.onnx"), "cannot read the FINN model (UnicodeDecodeError",
         files={"hw.onnx": _finn_model("MVAU", noActivation=1, weightDataType=b"\xff",
                                       inputDataType="INT8")}),
    Case("finn-model-partition-self", "`--finn-model` whose dataflow partition is itself",
         _finn_export("{dir}/hw.onnx"), "dataflow partitions nest deeper than 64",
         files={"hw.onnx": _finn_model("StreamingDataflowPartition", model="hw.onnx")}),
    Case("finn-model-partition-none", "`--finn-model` whose partition names no file (`5`)",
         _finn_export("{dir}/hw.onnx"), "names no model file",
         files={"hw.onnx": _finn_model("StreamingDataflowPartition", model=5)}),
    Case("factory-exit", "`--workload builtins:exit` (a factory that exits)",
         ("evaluate", "--workload", "builtins:exit"), "called exit"),
)
# fmt: on
"""`code=0`: accepted on purpose (the docs table says what the user gets)."""
