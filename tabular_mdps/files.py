r"""The MDP file format: ``.npz`` (binary) or ``.json`` (text), chosen by the file suffix.

Both formats store the same content, schema version 1:

* ``format``: the string ``"tabular_mdps.mdp"``; ``schema_version``: the integer 1;
* metadata: ``name`` (str or null), ``params`` (a JSON object), ``seed`` (int or null), and the
  sizes ``S`` and ``A``;
* the arrays ``P`` (S, A, S) with P[s, a, s'], ``r`` (S, A), ``rho`` (S,) and the scalar ``gamma``.

In ``.npz`` the arrays are float64 members and the metadata is one JSON string member ``meta``
(loaded with ``allow_pickle=False``: no code runs on load). In ``.json`` everything is one
object, arrays as nested lists; Python writes floats with ``repr``, which reads back to the same
float64, so both formats round-trip the arrays bit for bit.

Writes are atomic: the file is written to a temporary file in the destination folder, flushed,
fsynced, and moved over the destination with ``os.replace``; a crash leaves the old file or the
new one, never a torn file. :func:`load` validates everything (format, version, fields, types,
shapes against S and A, then the MDP itself through :class:`r1theory.TabularMDP`) and reports
any problem as a ``ValueError`` that names the file and the problem.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from r1theory import TabularMDP

from ._types import Array

__all__ = ["FORMAT", "SCHEMA_VERSION", "load", "load_with_meta", "save"]

FORMAT = "tabular_mdps.mdp"
SCHEMA_VERSION = 1
_SUFFIXES = (".npz", ".json")
_META_KEYS = ("format", "schema_version", "name", "params", "seed", "S", "A")
_ARRAY_KEYS = ("P", "r", "rho", "gamma")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(f"{path}: unsupported file suffix {path.suffix!r}; use one of {_SUFFIXES}")
    return suffix


def _jsonable(value: Any, where: str) -> Any:
    """``value`` with numpy scalars/arrays and tuples turned into JSON types (TypeError otherwise)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        if not np.isfinite(v):
            raise ValueError(f"{where} must be finite for JSON; got {v}")
        return v
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} keys must be strings; got {k!r}")
            out[k] = _jsonable(v, f"{where}[{k!r}]")
        return out
    raise TypeError(f"{where} must be JSON-serialisable (numbers, strings, lists, dicts); got {type(value).__name__}")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a ``.tmp-*`` file in the same folder, fsync, then rename.

    A reader never sees a half-written file; a writer killed mid-write leaves only a ``.tmp-*`` file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    mdp: TabularMDP,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    r"""Write ``mdp`` and its metadata to ``path`` (``.npz`` or ``.json``), atomically.

    Parameters
    ----------
    mdp
        The MDP.
    path
        Destination; its suffix chooses the format. The folder must exist.
    name, params, seed
        Metadata: the catalog name, its parameters (JSON-serialisable; tuples come back as lists,
        numpy scalars as Python numbers) and the seed, if any.

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    ValueError
        Unsupported suffix, or a non-finite float in ``params``.
    TypeError
        Metadata of the wrong type.
    """
    p = Path(path)
    suffix = _suffix(p)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None; got {type(name).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    meta: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "params": _jsonable(dict(params or {}), "params"),
        "seed": None if seed is None else int(seed),
        "S": mdp.S,
        "A": mdp.A,
    }
    if suffix == ".json":
        doc = {**meta, "gamma": mdp.gamma, "P": mdp.P.tolist(), "r": mdp.r.tolist(), "rho": mdp.rho.tolist()}
        data = json.dumps(doc, allow_nan=False).encode("utf-8")
    else:
        buf = io.BytesIO()
        np.savez(
            buf,
            P=mdp.P,
            r=mdp.r,
            rho=mdp.rho,
            gamma=np.float64(mdp.gamma),
            meta=np.array(json.dumps(meta, allow_nan=False)),
        )
        data = buf.getvalue()
    atomic_write(p, data)
    return p


def _fail(path: Path, problem: str) -> ValueError:
    return ValueError(f"{path}: {problem}")


def _read_npz(path: Path, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise _fail(path, "not an .npz archive (a single .npy array?)")
        with z:
            members = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError, zlib.error, ValueError ... from a bad archive
        if isinstance(exc, ValueError) and str(exc).startswith(f"{path}:"):
            raise
        raise _fail(path, f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    if "meta" not in members:
        raise _fail(path, f"missing field meta (has {', '.join(sorted(members)) or 'none'})")
    meta_arr = members.pop("meta")
    if meta_arr.shape != () or meta_arr.dtype.kind != "U":
        raise _fail(path, "field meta must be one JSON string")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as exc:
        raise _fail(path, f"field meta is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise _fail(path, "field meta must be a JSON object")
    return meta, members


def _read_json(path: Path, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict):
        raise _fail(path, f"the top level must be a JSON object; got {type(doc).__name__}")
    meta = {k: v for k, v in doc.items() if k not in _ARRAY_KEYS}
    return meta, {k: doc[k] for k in _ARRAY_KEYS if k in doc}


def _arrays(path: Path, raw: dict[str, Any]) -> dict[str, Array]:
    """Check that the four array fields are present and numeric; return them as float64."""
    missing = [k for k in _ARRAY_KEYS if k not in raw]
    if missing:
        raise _fail(path, f"missing field(s) {', '.join(missing)}")
    out: dict[str, Array] = {}
    for k in _ARRAY_KEYS:
        try:
            a = np.asarray(raw[k])
        except ValueError as exc:  # ragged nested lists
            raise _fail(path, f"field {k} is not a rectangular array ({exc})") from None
        if a.dtype.kind not in "if":
            raise _fail(path, f"field {k} must hold real numbers; got dtype {a.dtype}")
        out[k] = a.astype(np.float64)
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    if meta.get("format") != FORMAT:
        raise _fail(path, f"not a tabular_mdps MDP file (format {meta.get('format')!r}, expected {FORMAT!r})")
    version = meta.get("schema_version")
    if not _is_int(version) or version != SCHEMA_VERSION:
        raise _fail(path, f"unsupported schema_version {version!r} (this reader supports {SCHEMA_VERSION})")
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise _fail(path, f"missing field(s) {', '.join(missing)}")
    if meta["name"] is not None and not isinstance(meta["name"], str):
        raise _fail(path, "field name must be a string or null")
    if not isinstance(meta["params"], dict):
        raise _fail(path, "field params must be an object")
    if meta["seed"] is not None and not _is_int(meta["seed"]):
        raise _fail(path, "field seed must be an integer or null")
    if not (_is_int(meta["S"]) and _is_int(meta["A"]) and meta["S"] >= 1 and meta["A"] >= 1):
        raise _fail(path, f"fields S and A must be positive integers; got S={meta['S']!r}, A={meta['A']!r}")


def _build(path: Path, meta: dict[str, Any], arrays: dict[str, Array]) -> TabularMDP:
    S, A = meta["S"], meta["A"]
    expected = {"P": (S, A, S), "r": (S, A), "rho": (S,), "gamma": ()}
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            raise _fail(
                path, f"inconsistent shapes: {k} has shape {arrays[k].shape}, expected {shape} for S={S}, A={A}"
            )
    try:
        return TabularMDP(arrays["P"], arrays["r"], float(arrays["gamma"]), arrays["rho"])
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"invalid MDP: {exc}") from None


def load_with_meta(path: str | os.PathLike[str]) -> tuple[TabularMDP, dict[str, Any]]:
    """Read and validate an MDP file; return the MDP and its metadata.

    Returns
    -------
    (TabularMDP, dict)
        The metadata dict has ``name``, ``params``, ``seed`` and ``schema_version``.

    Raises
    ------
    ValueError
        The file is corrupt, truncated, not of this format, of another schema version, misses a
        field, has inconsistent shapes or is not a valid MDP (e.g. rows of P not summing to 1).
        The message starts with the path.
    OSError
        The file cannot be read (e.g. FileNotFoundError).
    """
    p = Path(path)
    suffix = _suffix(p)
    data = p.read_bytes()
    meta, raw = _read_npz(p, data) if suffix == ".npz" else _read_json(p, data)
    _check_meta(p, meta)
    mdp = _build(p, meta, _arrays(p, raw))
    return mdp, {k: meta[k] for k in ("name", "params", "seed", "schema_version")}


def load(path: str | os.PathLike[str]) -> TabularMDP:
    """Read and validate an MDP file (see :func:`load_with_meta`); return the MDP."""
    return load_with_meta(path)[0]
