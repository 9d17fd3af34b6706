r"""The MDP file format: ``.npz`` (binary) or ``.json`` (text), chosen by the file suffix.

Content
-------
* ``format``: the string ``"tabular_mdps.mdp"``; ``schema_version``: the integer 1 or 2 (below);
* metadata: ``name`` (str or null), ``params`` (a JSON object), ``seed`` (int or null), and the
  sizes ``S`` and ``A``;
* the arrays ``r`` (S, A), ``rho`` (S,) and the scalar ``gamma``;
* the transitions, in one of two storages (the field ``storage``):

  - ``"dense"``: the array ``P`` (S, A, S) with P[s, a, s'];
  - ``"csr"`` (``.npz`` only): the (S·A, S) CSR matrix of a sparse MDP (row ``s*A + a`` is
    P(· | s, a); :mod:`r1theory.mdp`) as four members instead of ``P``: ``P_data`` (nnz,) float64
    probabilities, ``P_indices`` (nnz,) integer column indices s', ``P_indptr`` (S·A + 1,) integer
    row pointers (row k holds the entries ``indptr[k]:indptr[k + 1]``), and ``P_shape`` the two
    integers (S·A, S).

Schema versions
---------------
* 1: dense only, no ``storage`` field (a ``storage`` key in a version-1 file is ignored). :func:`save`
  writes version 1 for every dense MDP, so dense files have exactly the content earlier versions
  of this module wrote, and older readers keep reading them.
* 2: adds the required field ``storage``, ``"dense"`` or ``"csr"``. :func:`save` writes version 2,
  storage ``"csr"``, for a sparse MDP (:attr:`r1theory.TabularMDP.is_sparse`); a version-1 reader
  refuses such a file ("unsupported schema_version 2") instead of misreading it.

:data:`SCHEMA_VERSION` is the newest version (2); :func:`load` reads both.

Encoding
--------
In ``.npz`` the arrays are members (float64; the CSR index arrays in the MDP's integer dtype, int32
or int64) and the metadata is one JSON string member ``meta`` (loaded with ``allow_pickle=False``:
no code runs on load). In ``.json`` everything is one object, arrays as nested lists; Python writes
floats with ``repr``, which reads back to the same float64, so both formats round-trip the arrays
bit for bit.

A ``.json`` file is always dense: its P is S²·A numbers as text, which is for small MDPs (at
S = 100,000 it would be 10¹⁰·A numbers). :func:`save` refuses a sparse MDP with a ``.json`` path (a
ValueError pointing to ``.npz``, or to ``mdp.to_dense()`` when the MDP is small), and :func:`load`
refuses storage ``"csr"`` in a ``.json`` file. A sparse MDP is written and read without ever
forming the (S, A, S) tensor: memory O(nnz + S·A).

Writes are atomic: the file is written to a temporary file in the destination folder, flushed,
fsynced, and moved over the destination with ``os.replace``; a crash leaves the old file or the
new one, never a torn file. :func:`load` validates everything (format, version, storage, fields,
types, shapes against S and A; for CSR the index arrays, before any scipy routine reads them:
integer dtype, 1-d, lengths nnz and S·A + 1, row pointers starting at 0, nondecreasing and ending
at nnz, column indices in 0..S − 1; then the MDP itself through :class:`r1theory.TabularMDP`:
probabilities finite, ≥ 0, rows summing to 1) and reports any problem as a ``ValueError`` that
names the file and the problem. TabularMDP stores CSR canonically (duplicate entries summed,
explicit zeros dropped, column indices sorted); :func:`save` writes that canonical form, so a
sparse file loads back bit for bit.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import scipy.sparse

from r1theory import TabularMDP

from ._types import Array

__all__ = ["FORMAT", "SCHEMA_VERSION", "SCHEMA_VERSIONS", "STORAGES", "load", "load_with_meta", "save"]

FORMAT = "tabular_mdps.mdp"
#: The newest schema version. :func:`save` writes 1 for a dense MDP and 2 for a sparse one.
SCHEMA_VERSION = 2
#: The schema versions :func:`load` reads.
SCHEMA_VERSIONS = (1, 2)
#: The values of the version-2 field ``storage``.
STORAGES = ("dense", "csr")
_SUFFIXES = (".npz", ".json")
_META_KEYS = ("format", "schema_version", "name", "params", "seed", "S", "A")
_ARRAY_KEYS = ("P", "r", "rho", "gamma")
_CSR_FLOAT_KEYS = ("P_data", "r", "rho", "gamma")
_CSR_INT_KEYS = ("P_indices", "P_indptr", "P_shape")


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


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a new ``.tmp-*`` file beside ``path`` for binary writing; on success fsync it and rename it to ``path``.

    A reader never sees a half-written file; a writer killed mid-write leaves only a ``.tmp-*`` file,
    and an exception in the ``with`` block removes it. The file is created with mode ``0o666 & ~umask``
    (``os.open`` with 0o666, the kernel applies the process umask), like any file a program creates, so
    co-authors on a shared machine can read results (``tempfile.mkstemp`` would make it 0o600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".tmp-{secrets.token_hex(8)}"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable as the umask allows (:func:`atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)


def save(
    mdp: TabularMDP,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    r"""Write ``mdp`` and its metadata to ``path`` (``.npz`` or ``.json``), atomically.

    A dense MDP is written as schema version 1 (the array P), a sparse one (``mdp.is_sparse``) as
    schema version 2 with storage ``"csr"`` (its CSR arrays, never densified; ``.npz`` only). See
    the module docstring for the format.

    Parameters
    ----------
    mdp
        The MDP, dense or sparse.
    path
        Destination; its suffix chooses the format. Missing parent folders are created.
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
        Unsupported suffix, a non-finite float in ``params``, or a sparse MDP with a ``.json``
        path (``.json`` is dense only; use ``.npz``, or ``mdp.to_dense()`` for a small MDP).
    TypeError
        Metadata of the wrong type.
    """
    p = Path(path)
    suffix = _suffix(p)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None; got {type(name).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}")
    sparse = mdp.is_sparse
    if sparse and suffix == ".json":
        raise ValueError(
            f"{p}: .json stores P dense, S*A*S numbers as text, and is meant for small MDPs; this MDP is sparse "
            f"(S={mdp.S}, A={mdp.A}, nnz={mdp.nnz}): save it as .npz (sparse storage), or save mdp.to_dense() "
            "if it is small"
        )
    meta: dict[str, Any] = {
        "format": FORMAT,
        "schema_version": 2 if sparse else 1,
        "name": name,
        "params": _jsonable(dict(params or {}), "params"),
        "seed": None if seed is None else int(seed),
        "S": mdp.S,
        "A": mdp.A,
    }
    if sparse:
        meta["storage"] = "csr"
    if suffix == ".json":
        doc = {**meta, "gamma": mdp.gamma, "P": mdp.P.tolist(), "r": mdp.r.tolist(), "rho": mdp.rho.tolist()}
        data = json.dumps(doc, allow_nan=False).encode("utf-8")
    else:
        P: Any = mdp.P
        transitions: dict[str, Any] = (
            {
                "P_data": P.data,
                "P_indices": P.indices,
                "P_indptr": P.indptr,
                "P_shape": np.array(P.shape, dtype=np.int64),
            }
            if sparse
            else {"P": P}
        )
        buf = io.BytesIO()
        np.savez(
            buf,
            **transitions,
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


def _read_npz(path: Path, f: BinaryIO) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metadata and array members of an open ``.npz`` file (read from the file, not a copy in memory)."""
    try:
        z = np.load(f, allow_pickle=False)
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


def _arrays(
    path: Path, raw: dict[str, Any], float_keys: tuple[str, ...], int_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check that the array fields are present; return them, ``float_keys`` as float64.

    ``float_keys`` must hold real numbers (returned as float64), ``int_keys`` integers (returned in
    their own dtype, so CSR index arrays load bit for bit).
    """
    missing = [k for k in (*float_keys, *int_keys) if k not in raw]
    if missing:
        raise _fail(path, f"missing field(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for k in (*float_keys, *int_keys):
        try:
            a = np.asarray(raw[k])
        except ValueError as exc:  # ragged nested lists
            raise _fail(path, f"field {k} is not a rectangular array ({exc})") from None
        if k in int_keys:
            if a.dtype.kind not in "iu":
                raise _fail(path, f"field {k} must hold integers; got dtype {a.dtype}")
            out[k] = a
        else:
            if a.dtype.kind not in "if":
                raise _fail(path, f"field {k} must hold real numbers; got dtype {a.dtype}")
            out[k] = a.astype(np.float64)
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_meta(path: Path, meta: dict[str, Any]) -> str:
    """Validate the metadata; return the storage, ``"dense"`` or ``"csr"``."""
    if meta.get("format") != FORMAT:
        raise _fail(path, f"not a tabular_mdps MDP file (format {meta.get('format')!r}, expected {FORMAT!r})")
    version = meta.get("schema_version")
    if not _is_int(version) or version not in SCHEMA_VERSIONS:
        supported = " and ".join(str(v) for v in SCHEMA_VERSIONS)
        raise _fail(path, f"unsupported schema_version {version!r} (this reader supports {supported})")
    missing = [k for k in _META_KEYS if k not in meta]
    if version >= 2 and "storage" not in meta:
        missing.append("storage")
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
    if version == 1:
        return "dense"
    storage = meta["storage"]
    if storage not in STORAGES:
        raise _fail(path, f"field storage must be one of {', '.join(map(repr, STORAGES))}; got {storage!r}")
    if storage == "csr" and path.suffix.lower() == ".json":
        raise _fail(path, "storage 'csr' is defined for .npz files only (.json files are dense)")
    return str(storage)


def _check_shapes(path: Path, S: int, A: int, arrays: dict[str, Any], expected: dict[str, tuple[int, ...]]) -> None:
    for k, shape in expected.items():
        if arrays[k].shape != shape:
            raise _fail(
                path, f"inconsistent shapes: {k} has shape {arrays[k].shape}, expected {shape} for S={S}, A={A}"
            )


def _make(path: Path, P: Any, arrays: dict[str, Any]) -> TabularMDP:
    try:
        return TabularMDP(P, arrays["r"], float(arrays["gamma"]), arrays["rho"])
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"invalid MDP: {exc}") from None


def _build(path: Path, meta: dict[str, Any], arrays: dict[str, Array]) -> TabularMDP:
    S, A = meta["S"], meta["A"]
    _check_shapes(path, S, A, arrays, {"P": (S, A, S), "r": (S, A), "rho": (S,), "gamma": ()})
    return _make(path, arrays["P"], arrays)


def _row(k: int, A: int) -> str:
    s, a = divmod(k, A)
    return f"row s*A + a = {k} (s={s}, a={a})"


def _build_csr(path: Path, meta: dict[str, Any], arrays: dict[str, Any]) -> TabularMDP:
    """The sparse MDP of a storage-"csr" file: the CSR structure is checked before scipy reads it."""
    S, A = meta["S"], meta["A"]
    n = S * A
    _check_shapes(path, S, A, arrays, {"r": (S, A), "rho": (S,), "gamma": ()})
    data, indices, indptr, shape = (arrays[k] for k in ("P_data", "P_indices", "P_indptr", "P_shape"))
    if shape.shape != (2,) or shape.tolist() != [n, S]:
        raise _fail(
            path, f"inconsistent shapes: P_shape is {shape.tolist()}, expected [S*A, S] = [{n}, {S}] for S={S}, A={A}"
        )
    for key, a in (("P_data", data), ("P_indices", indices), ("P_indptr", indptr)):
        if a.ndim != 1:
            raise _fail(path, f"invalid CSR: {key} must be a 1-d array; got shape {a.shape}")
    nnz = data.size
    if indices.size != nnz:
        raise _fail(
            path, f"invalid CSR: P_indices has length {indices.size} but P_data has length {nnz} (one column per entry)"
        )
    if indptr.size != n + 1:
        raise _fail(path, f"invalid CSR: P_indptr has length {indptr.size}, expected S*A + 1 = {n + 1}")
    if indptr[0] != 0 or indptr[-1] != nnz:
        raise _fail(
            path,
            f"invalid CSR: P_indptr must start at 0 and end at nnz = {nnz}; got {int(indptr[0])} .. {int(indptr[-1])}",
        )
    down = indptr[1:] < indptr[:-1]
    if np.any(down):
        k = int(np.argmax(down))
        raise _fail(
            path,
            f"invalid CSR: P_indptr decreases at {_row(k, A)} ({int(indptr[k])} then {int(indptr[k + 1])}); "
            "row pointers must be nondecreasing",
        )
    outside = (indices < 0) | (indices >= S)
    if np.any(outside):
        j = int(np.argmax(outside))
        row = int(np.searchsorted(indptr, j, side="right")) - 1
        raise _fail(
            path,
            f"invalid CSR: column index P_indices[{j}] = {int(indices[j])} at {_row(row, A)} is outside 0..{S - 1}",
        )
    try:
        P = scipy.sparse.csr_array((data, indices, indptr), shape=(n, S))
    except (TypeError, ValueError) as exc:  # pragma: no cover - the checks above leave scipy nothing to refuse
        raise _fail(path, f"invalid CSR: {exc}") from None
    return _make(path, P, arrays)


def load_with_meta(path: str | os.PathLike[str], *, sparse: bool | None = None) -> tuple[TabularMDP, dict[str, Any]]:
    """Read and validate an MDP file; return the MDP and its metadata.

    Parameters
    ----------
    path
        An ``.npz`` or ``.json`` file written by :func:`save` (schema version 1 or 2).
    sparse
        None (default): the MDP in the file's storage, dense or sparse (CSR files load sparse,
        without forming the dense tensor). True: sparse, converting a dense file with
        :meth:`r1theory.TabularMDP.to_sparse` after reading it. False: dense, converting a CSR file
        with :meth:`r1theory.TabularMDP.to_dense`, which allocates S²·A floats (for small MDPs;
        nothing guards against a huge allocation, which numpy refuses with a MemoryError).

    Returns
    -------
    (TabularMDP, dict)
        The metadata dict has ``name``, ``params``, ``seed``, ``schema_version`` and ``storage``
        (the file's storage, ``"dense"`` or ``"csr"``, whatever ``sparse`` asked for).

    Raises
    ------
    ValueError
        The file is corrupt, truncated, not of this format, of another schema version, misses a
        field, has inconsistent shapes, an invalid CSR structure (lengths, row pointers, column
        indices out of range) or is not a valid MDP (e.g. rows of P not summing to 1, a negative
        or NaN probability). The message starts with the path.
    TypeError
        ``sparse`` is not None, True or False.
    OSError
        The file cannot be read (e.g. FileNotFoundError).
    """
    if sparse is not None and not isinstance(sparse, bool):
        raise TypeError(f"sparse must be None, True or False; got {sparse!r}")
    p = Path(path)
    suffix = _suffix(p)
    with p.open("rb") as f:  # an OSError (e.g. FileNotFoundError) propagates as it is
        meta, raw = _read_npz(p, f) if suffix == ".npz" else _read_json(p, f.read())
    storage = _check_meta(p, meta)
    if storage == "csr":
        mdp = _build_csr(p, meta, _arrays(p, raw, _CSR_FLOAT_KEYS, _CSR_INT_KEYS))
    else:
        mdp = _build(p, meta, _arrays(p, raw, _ARRAY_KEYS))
    if sparse is True:
        mdp = mdp.to_sparse()
    elif sparse is False:
        mdp = mdp.to_dense()
    info = {k: meta[k] for k in ("name", "params", "seed", "schema_version")}
    info["storage"] = storage
    return mdp, info


def load(path: str | os.PathLike[str], *, sparse: bool | None = None) -> TabularMDP:
    """Read and validate an MDP file (see :func:`load_with_meta`, also for ``sparse``); return the MDP."""
    return load_with_meta(path, sparse=sparse)[0]
