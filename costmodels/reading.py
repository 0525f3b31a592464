"""The one way dse reads a file somebody gave it: with limits, before anything is built.

Every user file goes through here: network specs (YAML/JSON), device files, study configs,
choices files (`read_document`) and `.npz` data (`check_npz`). What is refused, each with
one line naming the file (a `DseError` of the caller's kind):

- anything that is not a regular file (`/dev/zero`, a FIFO, a folder), before it is opened
  for reading, so a device that never ends is never read;
- text over `MAX_DOCUMENT_BYTES` (16 MiB: a 10,000-layer spec is about 0.7 MB) and text
  that is not UTF-8;
- YAML/JSON nested deeper than `MAX_DEPTH` (64; a spec needs 4), checked on the parser's
  event stream (PyYAML's parser is iterative, its composer recursive) and on the loaded
  JSON value, so a 50,000-deep document is one line, not a `RecursionError`;
- YAML that expands to more than `MAX_NODES` nodes (2 million) through aliases: the
  "billion laughs" alias bomb (a few hundred bytes naming a list of lists of ... ) is
  counted anchor by anchor on the event stream, without expanding it;
- `.npz` archives whose members inflate past `MAX_DATA_BYTES` (1 GiB, `DSE_MAX_DATA_BYTES`
  to change) according to the zip directory *and* to each member's `.npy` header (the
  shape numpy would allocate), checked before any array is read;
- binary model files (ONNX/QONNX, `read_binary`) and the external weight files they name
  (`external_file`: inside the model's folder, regular, within the same byte cap), whose
  graphs `dse.onnx_import` then bounds by `MAX_MODEL_NODES` nodes and `MAX_DEPTH` levels
  of subgraphs.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from costmodels.errors import DseError, SpecError

MAX_DOCUMENT_BYTES = 16 << 20
MAX_DEPTH = 64
MAX_NODES = 2_000_000
MAX_DATA_BYTES = 1 << 30
DATA_BYTES_ENV = "DSE_MAX_DATA_BYTES"
MAX_MODEL_NODES = 200_000
"""Nodes in a model graph, subgraphs included: a 2,048-layer network (`MAX_LAYERS`) of
QONNX needs about 10 per layer (weight and activation quantizers, scales, the op)."""

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class _Loader(_Base):
    """The safe loader, refusing a mapping that names one key twice (`name: a, name: b`):
    YAML 1.2 requires keys to be unique and PyYAML would silently keep the last one, so a
    spec could mean two things to two readers."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[str] = set()
        for key, _value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key.value!r}", key.start_mark
                    )
                seen.add(key.value)
        return super().construct_mapping(node, deep)


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` object hook refusing a key given twice (RFC 8259 says names SHOULD be
    unique; Python keeps the last one silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _fail(kind: type[DseError], message: str) -> DseError:
    return kind(message)


def regular_file(path: str | Path, what: str, kind: type[DseError] = SpecError) -> Path:
    """`path` if it names a regular file; else a one-line `kind` error (missing, a folder,
    a device such as /dev/zero, a FIFO, a socket)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _fail(kind, f"{what} {str(p)!r} not found") from None
    except OSError as exc:
        raise _fail(kind, f"cannot read {what} {str(p)!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(kind, f"{what} {str(p)!r} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise _fail(
            kind, f"{what} {str(p)!r} is not a regular file (a device, FIFO or socket); refused"
        )
    return p


def read_text(
    path: str | Path,
    what: str,
    kind: type[DseError] = SpecError,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes`."""
    p = regular_file(path, what, kind)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise _fail(kind, f"cannot read {what} {str(p)!r}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise _fail(kind, f"{what} {str(p)!r} is larger than {max_bytes >> 20} MiB; refused")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(kind, f"{what} {str(p)!r} is not UTF-8 text (a binary file?)") from None


def _yaml_shape(text: str) -> tuple[int, int]:
    """(deepest nesting, nodes after expanding every alias) of a YAML stream, from the
    parser's events; stops early at the limits. Anchored subtrees are counted once and
    their size is added for every alias, so an alias bomb is measured without expanding
    it."""
    depth = 0
    deepest = 0
    total = 0
    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = []  # (anchor, nodes so far) of open collections
    try:
        events = list(_events(text))
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml >= 0.2.5 as bundled by PyYAML 6.0.4
            return MAX_DEPTH + 1, total
        raise
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            n = sizes.get(event.anchor or "", 1)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return deepest, total
            stack.append((event.anchor, 1))
            continue
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            anchor, n = stack.pop()
            if anchor is not None:
                sizes[anchor] = n
        elif isinstance(event, yaml.ScalarEvent):
            n = 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        else:
            continue
        if stack:
            a, m = stack[-1]
            stack[-1] = (a, m + n)
        else:
            total += n
        if total > MAX_NODES or (stack and stack[-1][1] > MAX_NODES):
            return deepest, MAX_NODES + 1
    return deepest, total


def _events(text: str) -> Iterator[yaml.Event]:
    """The parser's events, stopping once nesting passes `MAX_DEPTH` (libyaml refuses
    beyond its own limit of 1,000 with a scanner error; either way the text is too deep)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        yield event
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _json_depth(value: Any) -> int:
    """The nesting depth of a loaded JSON value (iterative: no recursion limit)."""
    deepest = 0
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, dict):
            deepest = max(deepest, d)
            todo.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            deepest = max(deepest, d)
            todo.extend((x, d + 1) for x in v)
    return deepest


def parse_document(text: str, what: str, kind: type[DseError], *, as_json: bool) -> Any:
    """Parse YAML (or JSON) text within the depth and expansion limits."""
    if as_json:
        try:
            value = json.loads(text, object_pairs_hook=_unique_pairs)
        except _DuplicateKey as exc:
            raise _fail(kind, f"{what} names the key {exc.args[0]!r} twice; refused") from None
        except RecursionError:
            raise _fail(kind, f"{what} is nested deeper than {MAX_DEPTH} levels; refused") from None
        if _json_depth(value) > MAX_DEPTH:
            raise _fail(kind, f"{what} is nested deeper than {MAX_DEPTH} levels; refused")
        return value
    depth, nodes = _yaml_shape(text)
    if depth > MAX_DEPTH:
        raise _fail(kind, f"{what} is nested deeper than {MAX_DEPTH} levels; refused")
    if nodes > MAX_NODES:
        raise _fail(
            kind,
            f"{what} expands to more than {MAX_NODES:,} values through YAML aliases "
            "(an alias bomb?); refused",
        )
    return yaml.load(text, Loader=_Loader)


def read_document(path: str | Path, what: str, kind: type[DseError] = SpecError) -> Any:
    """A YAML or JSON file (`.json`: JSON), read and parsed within every limit above.
    Syntax errors raise `yaml.YAMLError` / `json.JSONDecodeError` for the caller to word."""
    p = Path(path)
    text = read_text(p, what, kind)
    return parse_document(text, f"{what} {str(p)!r}", kind, as_json=p.suffix.lower() == ".json")


def max_data_bytes() -> int:
    """The decompressed-size cap of `.npz` data: `DSE_MAX_DATA_BYTES` or 1 GiB."""
    raw = os.environ.get(DATA_BYTES_ENV, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise SpecError(f"{DATA_BYTES_ENV}={raw!r} must be a whole number of bytes") from None
        if value < 1:
            raise SpecError(f"{DATA_BYTES_ENV}={raw!r} must be at least 1 byte")
        return value
    return MAX_DATA_BYTES


def _npy_members(zf: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, int]]:
    """(member, bytes its `.npy` header says numpy allocates) per member."""
    import numpy as np
    from numpy.lib import format as npy

    for info in zf.infolist():
        with zf.open(info) as fh:
            version = npy.read_magic(fh)
            if version == (1, 0):
                shape, _order, dtype = npy.read_array_header_1_0(fh)
            else:
                shape, _order, dtype = npy.read_array_header_2_0(fh)
        count = 1
        for d in shape:
            count *= int(d)
        yield info, count * np.dtype(dtype).itemsize


def check_npz(path: str | Path, kind: type[DseError]) -> Path:
    """Refuse, before numpy reads an array, an `.npz` that is not a regular file, not a zip
    archive, or whose arrays take more than `max_data_bytes()` once inflated."""
    p = regular_file(path, "data file", kind)
    cap = max_data_bytes()
    try:
        with zipfile.ZipFile(p) as zf:
            listed = sum(i.file_size for i in zf.infolist())
            if listed > cap:
                raise _fail(kind, _too_big(p, listed, cap))
            declared = 0
            for info, nbytes in _npy_members(zf):
                declared += nbytes
                if declared > cap or nbytes > info.file_size:
                    raise _fail(
                        kind,
                        _too_big(p, declared, cap)
                        if declared > cap
                        else f"data file {str(p)!r}: array {info.filename!r} says it holds "
                        f"{nbytes:,} bytes but stores {info.file_size:,}; a damaged file?",
                    )
    except DseError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, TypeError) as exc:
        text = str(exc).strip().splitlines()
        why = text[0] if text else type(exc).__name__
        raise _fail(kind, f"data file {str(p)!r} is not a readable .npz archive ({why})") from None
    return p


def read_binary(path: str | Path, what: str, kind: type[DseError] = SpecError) -> bytes:
    """The bytes of a regular file of at most `max_data_bytes()` (a model file)."""
    p = regular_file(path, what, kind)
    cap = max_data_bytes()
    try:
        with open(p, "rb") as fh:
            data = fh.read(cap + 1)
    except OSError as exc:
        raise _fail(kind, f"cannot read {what} {str(p)!r}: {exc.strerror or exc}") from None
    if len(data) > cap:
        raise _fail(
            kind,
            f"{what} {str(p)!r} is larger than {cap / 2**20:,.0f} MiB "
            f"({DATA_BYTES_ENV} raises it); refused",
        )
    return data


def external_file(
    base: Path, location: str, what: str, kind: type[DseError] = SpecError
) -> tuple[Path, int]:
    """(path, size) of a file a model names for its weights (`location`, relative to the
    model's folder `base`): refused when it is absolute, leaves the folder (`..`, a
    symlink out), or is not a regular file, so a model cannot make dse read
    `/etc/shadow` or `/dev/zero`."""
    rel = Path(location)
    if not location or rel.is_absolute() or "\x00" in location:
        raise _fail(kind, f"{what}: external data {location!r} must be a file beside it; refused")
    folder = base.resolve()
    if ".." in rel.parts:
        raise _fail(
            kind, f"{what}: external data {location!r} is outside the model's folder; refused"
        )
    regular_file(folder / rel, f"{what}: external data", kind)
    target = (folder / rel).resolve()
    if folder not in target.parents:
        raise _fail(
            kind, f"{what}: external data {location!r} is outside the model's folder; refused"
        )
    return target, target.stat().st_size


def _too_big(p: Path, size: int, cap: int) -> str:
    return (
        f"data file {str(p)!r} inflates to {size / 2**20:,.0f} MiB, over the "
        f"{cap / 2**20:,.0f} MiB limit ({DATA_BYTES_ENV} raises it); refused before loading"
    )


__all__ = [
    "DATA_BYTES_ENV",
    "MAX_DATA_BYTES",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_MODEL_NODES",
    "MAX_NODES",
    "check_npz",
    "external_file",
    "max_data_bytes",
    "parse_document",
    "read_binary",
    "read_document",
    "read_text",
    "regular_file",
]
