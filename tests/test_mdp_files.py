"""The MDP file format: bit-for-bit round trips, atomic writes, and clear errors on bad files."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse

import r1theory as r1
import tabular_mdps as tm
from r1theory import TabularMDP

SUFFIXES = [".npz", ".json"]


def _same(a: TabularMDP, b: TabularMDP) -> bool:
    return (
        a.P.tobytes() == b.P.tobytes()
        and a.r.tobytes() == b.r.tobytes()
        and a.rho.tobytes() == b.rho.tobytes()
        and a.gamma == b.gamma
        and (a.S, a.A) == (b.S, b.A)
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("garnet", {"S": 9, "A": 3, "branching": 4, "seed": 12, "min_gap": 0.1}),
        ("gridworld", {"slip": 0.1}),
        ("random", {}),
    ],
)
def test_round_trip_is_bit_for_bit_with_metadata(
    tmp_path: Path, suffix: str, name: str, params: dict[str, Any]
) -> None:
    inst = tm.get_instance(name, **params)
    seed = inst.params.get("seed")
    path = tm.save(inst.mdp, tmp_path / f"m{suffix}", name=name, params=inst.params, seed=seed)
    mdp, meta = tm.load_with_meta(path)
    assert _same(mdp, inst.mdp)
    assert meta["name"] == name and meta["seed"] == seed
    assert meta["schema_version"] == 1 and meta["storage"] == "dense"  # dense files stay version 1
    expected = json.loads(json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in inst.params.items()}))
    assert meta["params"] == expected
    assert _same(tm.load(str(path)), inst.mdp)
    # The metadata rebuilds the instance.
    rebuilt = tm.get(meta["name"], **{k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()})
    assert _same(rebuilt, inst.mdp)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_awkward_floats_round_trip_exactly(tmp_path: Path, suffix: str) -> None:
    P = np.zeros((2, 1, 2))
    P[0, 0] = (1 / 3, 2 / 3)
    P[1, 0] = (0.1 + 0.2 - 0.2, 1 - (0.1 + 0.2 - 0.2))
    mdp = TabularMDP(P, [[np.nextafter(0.5, 1.0)], [5e-324]], 0.1 + 0.2, [np.pi / 4, 1 - np.pi / 4])
    assert _same(tm.load(tm.save(mdp, tmp_path / f"x{suffix}")), mdp)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_save_is_atomic_and_leaves_no_temporary_file(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"m{suffix}"
    tm.save(tm.get("two_cycle"), path, name="two_cycle")
    tm.save(tm.get("absorbing"), path, name="absorbing")  # overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert tm.load_with_meta(path)[1]["name"] == "absorbing"

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        tm.save(tm.get("garnet"), path, name="garnet")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # temp file removed
    assert tm.load_with_meta(path)[1]["name"] == "absorbing"  # old content intact


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported file suffix"):
        tm.save(tm.get("absorbing"), tmp_path / "m.pkl")
    with pytest.raises(ValueError, match=r"m\.txt.*unsupported file suffix"):
        tm.load(tmp_path / "m.txt")


def test_save_rejects_unserialisable_metadata(tmp_path: Path) -> None:
    mdp = tm.get("absorbing")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        tm.save(mdp, tmp_path / "m.json", params={"f": object()})
    with pytest.raises(TypeError, match="seed must be an int"):
        tm.save(mdp, tmp_path / "m.json", seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        tm.save(mdp, tmp_path / "m.json", params={"x": float("nan")})
    assert list(tmp_path.iterdir()) == []


# --- malformed files -------------------------------------------------------------------------------


def _json_doc(tmp_path: Path) -> dict[str, Any]:
    path = tm.save(tm.get("garnet", S=4, A=2, branching=2), tmp_path / "good.json", name="garnet", seed=0)
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _write_npz(path: Path, **members: Any) -> Path:
    buf = io.BytesIO()
    np.savez(buf, **members)
    path.write_bytes(buf.getvalue())
    return path


def _npz_members(tmp_path: Path) -> dict[str, Any]:
    path = tm.save(tm.get("garnet", S=4, A=2, branching=2), tmp_path / "good.npz", name="garnet", seed=0)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _assert_rejected(path: Path, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        tm.load(path)
    assert str(path) in str(info.value)


def test_truncated_npz(tmp_path: Path) -> None:
    good = tm.save(tm.get("garnet"), tmp_path / "good.npz")
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        _assert_rejected(bad, "not a readable .npz archive")


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("payload", [b"", b"\x00\xff garbage \x89PNG", b"PK\x03\x04 not really a zip", b'{"P": [1, 2'])
def test_garbage_bytes(tmp_path: Path, suffix: str, payload: bytes) -> None:
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(payload)
    _assert_rejected(bad, "not a readable .npz archive" if suffix == ".npz" else "not valid JSON")


def test_npz_holding_a_single_array(tmp_path: Path) -> None:
    bad = tmp_path / "single.npz"
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    bad.write_bytes(buf.getvalue())
    _assert_rejected(bad, r"not an \.npz archive")


@pytest.mark.parametrize(
    "key", ["P", "r", "rho", "gamma", "format", "schema_version", "name", "params", "seed", "S", "A"]
)
def test_json_missing_a_key(tmp_path: Path, key: str) -> None:
    doc = _json_doc(tmp_path)
    del doc[key]
    expected = {"format": "not a tabular_mdps MDP file", "schema_version": "unsupported schema_version"}
    _assert_rejected(_write_json(tmp_path / "missing.json", doc), expected.get(key, f"missing field.*{key}"))


@pytest.mark.parametrize("key", ["P", "r", "rho", "gamma", "meta"])
def test_npz_missing_a_member(tmp_path: Path, key: str) -> None:
    members = _npz_members(tmp_path)
    del members[key]
    _assert_rejected(_write_npz(tmp_path / "missing.npz", **members), f"missing field.*{key}")


@pytest.mark.parametrize("version", [0, 3, "1", 1.0, True, None])
def test_wrong_schema_version(tmp_path: Path, version: Any) -> None:
    doc = _json_doc(tmp_path)
    doc["schema_version"] = version
    _assert_rejected(_write_json(tmp_path / "v.json", doc), "unsupported schema_version")
    members = _npz_members(tmp_path)
    meta = json.loads(str(members["meta"]))
    meta["schema_version"] = version
    members["meta"] = np.array(json.dumps(meta))
    _assert_rejected(_write_npz(tmp_path / "v.npz", **members), "unsupported schema_version")


def test_wrong_format_and_bad_meta(tmp_path: Path) -> None:
    doc = _json_doc(tmp_path)
    doc["format"] = "something-else"
    _assert_rejected(_write_json(tmp_path / "f.json", doc), "not a tabular_mdps MDP file")
    _assert_rejected(_write_json(tmp_path / "list.json", [1, 2, 3]), "top level must be a JSON object")
    members = _npz_members(tmp_path)
    members["meta"] = np.array("{not json")
    _assert_rejected(_write_npz(tmp_path / "m.npz", **members), "meta is not valid JSON")
    members["meta"] = np.arange(3.0)
    _assert_rejected(_write_npz(tmp_path / "m2.npz", **members), "meta must be one JSON string")
    doc = _json_doc(tmp_path)
    doc["seed"] = "zero"
    _assert_rejected(_write_json(tmp_path / "s.json", doc), "seed must be an integer")
    doc = _json_doc(tmp_path)
    doc["params"] = [1]
    _assert_rejected(_write_json(tmp_path / "p.json", doc), "params must be an object")


def test_inconsistent_shapes(tmp_path: Path) -> None:
    doc = _json_doc(tmp_path)
    doc["r"] = doc["r"][:-1]  # S − 1 rows
    _assert_rejected(_write_json(tmp_path / "r.json", doc), r"inconsistent shapes: r has shape \(3, 2\)")
    doc = _json_doc(tmp_path)
    doc["S"] = 5
    _assert_rejected(_write_json(tmp_path / "S.json", doc), "inconsistent shapes: P")
    doc = _json_doc(tmp_path)
    doc["P"][0][0] = doc["P"][0][0][:-1]  # ragged
    _assert_rejected(_write_json(tmp_path / "ragged.json", doc), "not a rectangular array")
    members = _npz_members(tmp_path)
    members["rho"] = np.ones(3) / 3
    _assert_rejected(_write_npz(tmp_path / "rho.npz", **members), r"inconsistent shapes: rho")


def test_wrong_types_in_arrays(tmp_path: Path) -> None:
    doc = _json_doc(tmp_path)
    doc["r"][0][0] = "0.5"
    _assert_rejected(_write_json(tmp_path / "str.json", doc), "must hold real numbers")
    doc = _json_doc(tmp_path)
    doc["gamma"] = True
    _assert_rejected(_write_json(tmp_path / "bool.json", doc), "must hold real numbers")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_rows_not_summing_to_one(tmp_path: Path, suffix: str) -> None:
    if suffix == ".json":
        doc = _json_doc(tmp_path)
        doc["P"][1][0][0] += 0.1
        path = _write_json(tmp_path / "rows.json", doc)
    else:
        members = _npz_members(tmp_path)
        members["P"] = members["P"].copy()
        members["P"][1, 0, 0] += 0.1
        path = _write_npz(tmp_path / "rows.npz", **members)
    _assert_rejected(path, "invalid MDP: P .*sum to 1")


def test_invalid_gamma_and_negative_probability(tmp_path: Path) -> None:
    doc = _json_doc(tmp_path)
    doc["gamma"] = 1.0
    _assert_rejected(_write_json(tmp_path / "g.json", doc), "invalid MDP: gamma must lie in")
    doc = _json_doc(tmp_path)
    doc["rho"] = [1.5, -0.5, 0.0, 0.0]
    _assert_rejected(_write_json(tmp_path / "rho.json", doc), "invalid MDP: rho has a negative entry")


def test_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        tm.load(tmp_path / "absent.npz")


# --- sparse MDPs: schema version 2, storage "csr" (.npz only) --------------------------------------

CSR_PARTS = ("data", "indices", "indptr")


def _same_sparse(a: TabularMDP, b: TabularMDP) -> bool:
    """Both sparse and equal bit for bit: the CSR arrays (values and dtypes), r, ρ, γ and the sizes."""
    return (
        a.is_sparse
        and b.is_sparse
        and a.P.shape == b.P.shape
        and all(
            getattr(a.P, k).dtype == getattr(b.P, k).dtype and getattr(a.P, k).tobytes() == getattr(b.P, k).tobytes()
            for k in CSR_PARTS
        )
        and a.r.tobytes() == b.r.tobytes()
        and a.rho.tobytes() == b.rho.tobytes()
        and a.gamma == b.gamma
        and (a.S, a.A) == (b.S, b.A)
    )


def _sparse_instances() -> dict[str, TabularMDP]:
    return {
        "garnet": tm.garnet(S=60, A=3, branching=3, gamma=0.95, seed=5, sparse=True),
        "gridworld": tm.get("gridworld", slip=0.1).to_sparse(),  # structured, many zeros dropped
        "random-full-rows": tm.random_mdp(S=7, A=2, seed=1).to_sparse(),  # every entry stored
        "one-state": TabularMDP(scipy.sparse.csr_array([[1.0], [1.0]]), [[0.5, -1.0]], 0.5, [1.0]),
    }


@pytest.mark.parametrize("key", list(_sparse_instances()))
def test_sparse_round_trip_is_bit_for_bit_and_stays_sparse(tmp_path: Path, key: str) -> None:
    mdp = _sparse_instances()[key]
    path = tm.save(mdp, tmp_path / "m.npz", name=key, params={"S": mdp.S}, seed=3)
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(["P_data", "P_indices", "P_indptr", "P_shape", "r", "rho", "gamma", "meta"])
        assert z["P_shape"].tolist() == [mdp.S * mdp.A, mdp.S]
    back, meta = tm.load_with_meta(path)
    assert _same_sparse(back, mdp)
    assert meta == {"name": key, "params": {"S": mdp.S}, "seed": 3, "schema_version": 2, "storage": "csr"}
    # The loaded sparse MDP evaluates like its dense twin (GMRES against LU; module docstring of test_sparse).
    theta = np.random.default_rng(0).normal(size=(mdp.S, mdp.A))
    pi = r1.softmax(theta)
    ev, ev_dense = r1.evaluate(back, pi), r1.evaluate(mdp.to_dense(), pi)
    np.testing.assert_allclose(ev.V, ev_dense.V, rtol=0, atol=1e-10)
    assert ev.J == pytest.approx(ev_dense.J, abs=1e-10)


def test_sparse_save_is_atomic_and_overwrites_dense(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    tm.save(tm.get("two_cycle"), path)
    tm.save(_sparse_instances()["garnet"], path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert tm.load(path).is_sparse


def test_big_sparse_round_trip_never_forms_the_dense_tensor(tmp_path: Path) -> None:
    S, A, b = 20_000, 4, 3
    mdp = tm.garnet(S=S, A=A, branching=b, seed=0, sparse=True)
    dense_bytes = S * A * S * 8  # 12.8 GB
    path = tmp_path / "big.npz"
    tracemalloc.start()
    try:
        tm.save(mdp, path)
        _, save_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        back = tm.load(path)
        _, load_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = path.stat().st_size
    assert size < 6_000_000  # nnz = 240,000: ~12 bytes per entry + S·A rewards, about 5.3 MB
    # Measured: save ~6.4 MB, load ~16 MB (file members + the MDP's own copy): O(nnz + S·A).
    assert save_peak < 3 * size and load_peak < 5 * size
    assert max(save_peak, load_peak) < dense_bytes / 500
    assert _same_sparse(back, mdp)


def _v1_members(mdp: TabularMDP) -> dict[str, Any]:
    """A dense file's members exactly as the version-1 writer (before sparse storage) produced them."""
    meta = {"format": tm.FORMAT, "schema_version": 1, "name": "old", "params": {"k": [1, 2]}, "seed": 4}
    meta |= {"S": mdp.S, "A": mdp.A}
    return {"P": mdp.P, "r": mdp.r, "rho": mdp.rho, "gamma": np.float64(mdp.gamma), "meta": np.array(json.dumps(meta))}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_version_1_dense_files_still_load(tmp_path: Path, suffix: str) -> None:
    mdp = tm.get("garnet", S=5, A=2, branching=3)
    members = _v1_members(mdp)
    if suffix == ".npz":
        path = _write_npz(tmp_path / "old.npz", **members)
    else:
        doc = json.loads(str(members["meta"])) | {
            "gamma": mdp.gamma,
            "P": mdp.P.tolist(),
            "r": mdp.r.tolist(),
            "rho": mdp.rho.tolist(),
        }
        path = _write_json(tmp_path / "old.json", doc)
    back, meta = tm.load_with_meta(path)
    assert not back.is_sparse and _same(back, mdp)
    assert meta == {"name": "old", "params": {"k": [1, 2]}, "seed": 4, "schema_version": 1, "storage": "dense"}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_dense_files_are_still_written_as_version_1(tmp_path: Path, suffix: str) -> None:
    mdp = tm.get("garnet", S=5, A=2, branching=3)
    path = tm.save(mdp, tmp_path / f"m{suffix}", name="old", params={"k": (1, 2)}, seed=4)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            written = {k: z[k] for k in z.files}
        expected = _v1_members(mdp)
        assert list(written) == list(expected)  # same members, same order
        assert str(written["meta"]) == str(expected["meta"])  # same metadata, key for key
        assert all(written[k].tobytes() == expected[k].tobytes() for k in ("P", "r", "rho", "gamma"))
    else:
        doc = json.loads(path.read_text())
        assert doc["schema_version"] == 1 and "storage" not in doc


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_can_force_the_storage(tmp_path: Path, suffix: str) -> None:
    dense = tm.get("gridworld", slip=0.2)
    path = tm.save(dense, tmp_path / f"d{suffix}")
    as_sparse = tm.load(path, sparse=True)
    assert _same_sparse(as_sparse, dense.to_sparse())
    assert _same(tm.load(path, sparse=False), dense) and not tm.load(path).is_sparse
    mdp, meta = tm.load_with_meta(path, sparse=True)
    assert mdp.is_sparse and meta["storage"] == "dense"  # the file's storage
    sparse = _sparse_instances()["garnet"]
    spath = tm.save(sparse, tmp_path / "s.npz")
    as_dense = tm.load(spath, sparse=False)
    assert not as_dense.is_sparse and _same(as_dense, sparse.to_dense())
    assert _same_sparse(tm.load(spath, sparse=True), sparse)
    with pytest.raises(TypeError, match="sparse must be None, True or False"):
        tm.load(spath, sparse="yes")  # type: ignore[arg-type]


def test_sparse_mdp_to_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with pytest.raises(ValueError, match=r"\.json stores P dense.*save it as \.npz.*to_dense\(\)") as info:
        tm.save(_sparse_instances()["garnet"], path)
    assert str(path) in str(info.value)
    assert list(tmp_path.iterdir()) == []
    small = _sparse_instances()["gridworld"]  # the way out for a small sparse MDP
    assert _same_sparse(tm.load(tm.save(small.to_dense(), path), sparse=True), small)


def test_json_storage_field(tmp_path: Path) -> None:
    doc = _json_doc(tmp_path)
    doc |= {"schema_version": 2, "storage": "dense"}  # version 2 may say dense: same fields as version 1
    mdp, meta = tm.load_with_meta(_write_json(tmp_path / "v2.json", doc))
    assert not mdp.is_sparse and meta["schema_version"] == 2 and meta["storage"] == "dense"
    doc["storage"] = "csr"
    _assert_rejected(_write_json(tmp_path / "csr.json", doc), "storage 'csr' is defined for .npz files only")
    doc["storage"] = "coo"
    _assert_rejected(_write_json(tmp_path / "coo.json", doc), "field storage must be one of 'dense', 'csr'")
    del doc["storage"]
    _assert_rejected(_write_json(tmp_path / "none.json", doc), "missing field.*storage")


def _sparse_members(tmp_path: Path) -> dict[str, Any]:
    """A valid storage-"csr" file's members: S = 6, A = 2, branching 2, so nnz = 24 and 13 row pointers."""
    mdp = tm.garnet(S=6, A=2, branching=2, seed=1, sparse=True)
    path = tm.save(mdp, tmp_path / "good.npz", name="garnet", seed=1)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k].copy() for k in z.files}


def _set(key: str, index: int, value: Any) -> Any:
    def mutate(m: dict[str, Any]) -> None:
        m[key][index] = value

    return mutate


def _replace(key: str, fn: Any) -> Any:
    def mutate(m: dict[str, Any]) -> None:
        m[key] = fn(m[key])

    return mutate


def _meta(**changes: Any) -> Any:
    def mutate(m: dict[str, Any]) -> None:
        meta = json.loads(str(m["meta"]))
        for k, v in changes.items():
            if v is None:
                del meta[k]
            else:
                meta[k] = v
        m["meta"] = np.array(json.dumps(meta))

    return mutate


def _drop(key: str) -> Any:
    def mutate(m: dict[str, Any]) -> None:
        del m[key]

    return mutate


CORRUPT_SPARSE = {
    "column index = S": (
        _set("P_indices", 3, 6),
        r"column index P_indices\[3\] = 6 at row s\*A \+ a = 1 .* outside 0\.\.5",
    ),
    "negative column index": (_set("P_indices", 0, -1), r"P_indices\[0\] = -1 .* outside 0\.\.5"),
    "indptr decreasing": (_set("P_indptr", 3, 1), r"P_indptr decreases at row s\*A \+ a = 2 \(s=1, a=0\)"),
    "indptr too short": (_replace("P_indptr", lambda a: a[:-1]), r"P_indptr has length 12, expected S\*A \+ 1 = 13"),
    "indptr not starting at 0": (_set("P_indptr", 0, 1), "P_indptr must start at 0 and end at nnz = 24"),
    "indptr not ending at nnz": (_set("P_indptr", -1, 23), "P_indptr must start at 0 and end at nnz = 24; got 0 .. 23"),
    "indices shorter than data": (
        _replace("P_indices", lambda a: a[:-1]),
        "P_indices has length 23 but P_data has length 24",
    ),
    "data longer than indices": (
        _replace("P_data", lambda a: np.r_[a, 0.5]),
        "P_indices has length 24 but P_data has length 25",
    ),
    "2-d data": (_replace("P_data", lambda a: a.reshape(2, -1)), "P_data must be a 1-d array"),
    "wrong P_shape": (
        _replace("P_shape", lambda a: np.array([13, 6])),
        r"P_shape is \[13, 6\], expected \[S\*A, S\] = \[12, 6\]",
    ),
    "float indices": (_replace("P_indices", lambda a: a.astype(float)), "field P_indices must hold integers"),
    "string data": (_replace("P_data", lambda a: a.astype(str)), "field P_data must hold real numbers"),
    "row sum 1.1": (
        _replace("P_data", lambda a: a + np.r_[0.1, np.zeros(23)]),
        r"invalid MDP: P \(sparse\) must have rows summing to 1.*s=0, a=0",
    ),
    "negative probability": (_replace("P_data", lambda a: -a), r"invalid MDP: P \(sparse\) has a negative entry"),
    "NaN probability": (_set("P_data", 5, np.nan), r"invalid MDP: P \(sparse\) has a NaN or infinite entry .*s=1, a=0"),
    "missing P_indptr": (_drop("P_indptr"), "missing field.*P_indptr"),
    "missing P_data": (_drop("P_data"), "missing field.*P_data"),
    "r of the wrong shape": (_replace("r", lambda a: a[:-1]), r"inconsistent shapes: r has shape \(5, 2\)"),
    "S changed": (_meta(S=7, A=2), r"inconsistent shapes: r has shape \(6, 2\), expected \(7, 2\)"),
    "no storage": (_meta(storage=None), "missing field.*storage"),
    "storage dense without P": (_meta(storage="dense"), "missing field.*P"),
    "storage unknown": (_meta(storage="csc"), "field storage must be one of"),
    "version 1 with CSR members": (_meta(schema_version=1), "missing field.*P"),
    "version 3": (_meta(schema_version=3), r"unsupported schema_version 3 \(this reader supports 1 and 2\)"),
}


@pytest.mark.parametrize("case", list(CORRUPT_SPARSE))
def test_corrupt_sparse_files_are_rejected_naming_the_file(tmp_path: Path, case: str) -> None:
    mutate, match = CORRUPT_SPARSE[case]
    members = _sparse_members(tmp_path)
    mutate(members)
    _assert_rejected(_write_npz(tmp_path / "bad.npz", **members), match)


def test_sparse_file_with_unsorted_and_duplicate_entries_loads_canonically(tmp_path: Path) -> None:
    mdp = tm.garnet(S=6, A=2, branching=2, seed=1, sparse=True)
    m = _sparse_members(tmp_path)
    # Row 0's two entries in reverse order, and its first entry split into two equal halves (exact in binary).
    lo, hi = int(m["P_indptr"][0]), int(m["P_indptr"][1])
    data, idx = m["P_data"], m["P_indices"]
    row_data = np.r_[data[lo:hi][::-1][:-1], data[lo] / 2, data[lo] / 2]
    row_idx = np.r_[idx[lo:hi][::-1][:-1], idx[lo], idx[lo]]
    m["P_data"] = np.r_[row_data, data[hi:]]
    m["P_indices"] = np.r_[row_idx, idx[hi:]].astype(idx.dtype)
    m["P_indptr"] = np.r_[0, m["P_indptr"][1:] + 1]
    back = tm.load(_write_npz(tmp_path / "messy.npz", **m))
    assert _same_sparse(back, mdp)
