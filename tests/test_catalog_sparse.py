"""The catalog's sparse Garnet: exact branching, sparse storage, min_gap, agreement with a dense copy."""

from __future__ import annotations

import numpy as np
import pytest

import r1theory as r1
import tabular_mdps


def test_sparse_garnet_has_exact_branching_and_validates() -> None:
    mdp = tabular_mdps.get("garnet", S=500, A=3, branching=4, seed=7, sparse=True)
    assert mdp.is_sparse
    assert np.all(np.diff(mdp.P.indptr) == 4)
    rows = mdp.P.toarray().reshape(500, 3, 500)
    assert np.all(np.count_nonzero(rows, axis=2) == 4)
    np.testing.assert_allclose(rows.sum(axis=2), 1.0, atol=1e-12)
    again = tabular_mdps.get("garnet", S=500, A=3, branching=4, seed=7, sparse=True)
    assert (mdp.P != again.P).nnz == 0  # reproducible from the seed


def test_sparse_garnet_quantities_match_its_dense_copy() -> None:
    mdp = tabular_mdps.get("garnet", S=40, A=3, branching=2, gamma=0.9, seed=3, sparse=True, min_gap=0.05)
    dense = r1.TabularMDP(mdp.P.toarray().reshape(40, 3, 40), mdp.r, mdp.gamma, mdp.rho)
    opt = r1.optimal(mdp)
    assert opt.gap.min() >= 0.05 - 1e-9
    theta = np.random.default_rng(0).normal(size=(40, 3))
    np.testing.assert_allclose(r1.policy_gradient(mdp, theta), r1.policy_gradient(dense, theta), atol=1e-10)
    assert r1.optimal(dense).J == pytest.approx(opt.J, abs=1e-9)


def test_sparse_garnet_file_round_trip_rebuilds_from_its_metadata(tmp_path) -> None:
    inst = tabular_mdps.get_instance("garnet", S=300, A=3, branching=3, seed=11, sparse=True, min_gap=0.02)
    path = tabular_mdps.save(inst.mdp, tmp_path / "g.npz", name="garnet", params=inst.params, seed=11)
    mdp, meta = tabular_mdps.load_with_meta(path)
    assert mdp.is_sparse and (meta["schema_version"], meta["storage"]) == (2, "csr")
    rebuilt = tabular_mdps.get(meta["name"], **meta["params"])  # the metadata rebuilds the instance
    for m in (mdp, rebuilt):
        for part in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(m.P, part), getattr(inst.mdp.P, part))
        assert m.r.tobytes() == inst.mdp.r.tobytes() and m.rho.tobytes() == inst.mdp.rho.tobytes()
    assert r1.optimal(mdp).J == pytest.approx(r1.optimal(inst.mdp).J, abs=1e-9)
