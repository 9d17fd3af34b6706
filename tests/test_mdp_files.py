"""The MDP file format: bit-for-bit round trips, atomic writes, and clear errors on bad files."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

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
    assert meta["name"] == name and meta["seed"] == seed and meta["schema_version"] == tm.SCHEMA_VERSION
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


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, True, None])
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
