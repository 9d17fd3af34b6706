"""Point the verification at your own problem (issue #16): --mdp / --instance / grids / --config, study(), replay."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import proofs_checks
import tabular_mdps
from proofs_checks.context import Context
from proofs_checks.studies import Study, StudyError, build
from proofs_checks.sweep import Sweep
from r1theory_cli import main

ROOT = Path(__file__).resolve().parents[1]
C1 = "c1.faster-than-pg"


def _results(out: Path) -> list[dict]:
    """The results of results.json: a study of the user's instances has no corpus replays (they carry a "path")."""
    rs = json.loads((out / "results.json").read_text())["results"]
    assert not [r for r in rs if "path" in r["evidence"]], "a study of one's own MDP replays no corpus entry"
    return rs


@pytest.fixture
def my_json(tmp_path: Path) -> Path:
    """The issue's 10-state MDP, saved as .json."""
    return tabular_mdps.save(tabular_mdps.get("random", S=10, A=4, gamma=0.95, seed=1), tmp_path / "my.json")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A small MDP for the slower comparisons."""
    return tabular_mdps.save(tabular_mdps.get("random", S=3, A=2, gamma=0.9, seed=2), tmp_path / "small.npz")


def test_verify_c1_runs_only_my_mdp_methods_and_damping(my_json, tmp_path, capsys):
    out = tmp_path / "X"
    argv = ["verify", "--only", "c1", "--mdp", str(my_json), "--methods", "r1-grad,r1-same", "--damping", "1e-3"]
    assert main([*argv, "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
    rs = _results(out)
    assert rs and {r["claim"] for r in rs} == {C1}
    assert {r["conditions"]["family"] for r in rs} == {"my.json"}
    assert {r["variant"] for r in rs} == {"r1-grad", "r1-same"}
    assert {r["conditions"]["damping"] for r in rs} == {1e-3}
    assert {r["conditions"]["epsilon"] for r in rs} == {"loose", "tight"}
    assert len(rs) == 2 * 2 * 3  # methods × ε levels × protocols
    prov = json.loads((out / "results.json").read_text())["provenance"]
    assert prov["study"]["methods"] == ["r1-grad", "r1-same"]


def _same_results(a: Path, b: Path) -> None:
    ra, rb = _results(a), _results(b)
    assert ra and ra == rb


def test_config_file_and_flags_give_identical_results(small, tmp_path):
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        'only = "c1"\nmdp = ["small.npz"]\ninstance = ["li_chain:H=3"]\nmethods = ["r1-grad"]\n'
        'damping = [0.1]\nsteps = [0.1, 1.0, 10.0]\neps = [0.1, 0.001]\nout = "from-config"\n'
    )
    assert main(["verify", "--config", str(cfg), "--no-progress", "--jobs", "1"]) == 0
    flags = ["verify", "--only", "c1", "--mdp", str(small), "--instance", "li_chain:H=3", "--methods", "r1-grad"]
    flags += ["--damping", "0.1", "--steps", "0.1,1,10", "--eps", "0.1,0.001", "--out", str(tmp_path / "flags")]
    assert main([*flags, "--no-progress", "--jobs", "1"]) == 0
    _same_results(tmp_path / "from-config", tmp_path / "flags")
    rs = _results(tmp_path / "flags")
    assert {r["conditions"]["family"] for r in rs} == {"small.npz", "li_chain:H=3"}
    assert {r["conditions"]["epsilon"] for r in rs} == {"loose", "0.001"}  # a default level keeps its name
    # flags override the file: one more method on the command line
    over = tmp_path / "override"
    assert main(["verify", "--config", str(cfg), "--methods", "r1-same", "--out", str(over), "--no-progress"]) == 0
    assert {r["variant"] for r in _results(over)} == {"r1-same"}


def test_python_study_is_what_the_cli_runs(small, tmp_path):
    """proofs_checks.study takes files, names and TabularMDP objects and returns the CheckResults it wrote."""
    mdp = tabular_mdps.load(small)
    res = proofs_checks.study(
        [mdp], methods="r1-grad", damping=[0.1], steps=[0.1, 1.0, 10.0], eps=[0.1], claims="c1", out=tmp_path / "py"
    )
    assert res and all(r.claim == C1 for r in res)
    assert (tmp_path / "py" / "mdps" / "mdp-1.npz").is_file()
    assert [r.to_dict() for r in res] == _results(tmp_path / "py")
    # the same MDP given as its file: identical verdicts and measurements
    again = proofs_checks.study(
        [small], methods="r1-grad", damping=[0.1], steps=[0.1, 1.0, 10.0], eps=[0.1], claims="c1", out=tmp_path / "f"
    )
    assert [(r.verdict, r.measured) for r in again] == [(r.verdict, r.measured) for r in res]


def test_context_asks_the_study_else_the_defaults(tmp_path):
    ctx = Context(mode="quick", sweep=Sweep(tmp_path / "cache"), out=tmp_path)
    assert ctx.grid("damping", [1.0]) == [1.0] and ctx.instances(["a"], lambda t: t.label) == ["a"]
    s = build(["li_chain:H=3"], damping="0.5,0", methods=["r1-grad"])
    ctx = Context(mode="quick", sweep=Sweep(tmp_path / "cache"), out=tmp_path, study=s)
    assert ctx.grid("damping", [1.0]) == [0.5, 0.0]
    assert ctx.grid("steps", [2.0]) == [2.0]
    assert ctx.instances(["a"], lambda t: (t.name, t.params)) == [("li_chain", {"H": 3})]
    with pytest.raises(ValueError, match="unknown grid 'lam'"):
        ctx.grid("lam", None)
    assert Study().is_default() and not s.is_default()


def test_classic_checks_take_the_instances_and_say_when_they_do_not_apply(tmp_path):
    res = proofs_checks.study(["li_chain:H=3"], claims="mei2020.bandit", out=tmp_path / "b")
    assert res.status == 0 and res
    assert all(r.verdict == "inconclusive" for r in res)
    assert all(
        "not a bandit" in " ".join(r.evidence["reasons"]) and "li_chain" in r.conditions["instance"] for r in res
    )
    pdl = proofs_checks.study(["li_chain:H=3"], claims="pdl", out=tmp_path / "p")
    assert pdl and {r.conditions["instance"] for r in pdl} == {"li_chain(H=3)"}


# --------------------------------------------------------------------------------------------- bad input
def _bad_mdp(tmp_path: Path, kind: str) -> Path:
    base = tabular_mdps.get("random", S=3, A=2, gamma=0.9, seed=0)
    p = tabular_mdps.save(base, tmp_path / f"{kind}.json")
    doc = json.loads(p.read_text())
    P = np.array(doc["P"])
    if kind == "nan":
        P[0, 0, 0] = np.nan
    elif kind == "negative":
        P[0, 0, 0], P[0, 0, 1] = -0.5, P[0, 0, 1] + 0.5 + P[0, 0, 0]
    elif kind == "unnormalised":
        P[1, 1] *= 2.0
    elif kind == "shape":
        P = P[:, :, :2]
    elif kind == "version":
        doc["schema_version"] = 7
    elif kind == "garbage":
        p.write_text("{not json")
        return p
    elif kind == "huge":  # a dense file claiming S = 10⁶: its P would need 8·10¹² · A bytes
        q = tmp_path / "huge.npz"
        meta = {**{k: doc[k] for k in ("format", "schema_version", "name", "params", "seed")}, "S": 10**6, "A": 4}
        np.savez(
            q, P=np.zeros(1), r=np.zeros(1), rho=np.zeros(1), gamma=np.float64(0.9), meta=np.array(json.dumps(meta))
        )
        return q
    doc["P"] = json.loads(json.dumps(P.tolist()).replace("NaN", "NaN"))
    p.write_text(json.dumps(doc))
    return p


BAD_FILES = {
    "missing": "no such file",
    "garbage": "not valid JSON",
    "nan": "invalid MDP",
    "negative": "invalid MDP",
    "unnormalised": "invalid MDP",
    "shape": "inconsistent shapes",
    "version": "unsupported schema_version 7",
    "huge": "sparse",
}


def _exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def _fails_cleanly(argv: list[str], out: Path, capsys, *needles: str) -> None:
    _exit_2([*argv, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_mdp_file_is_one_line_exit_2(kind, tmp_path, capsys):
    path = tmp_path / "absent.json" if kind == "missing" else _bad_mdp(tmp_path, kind)
    _fails_cleanly(["verify", "--only", "c1", "--mdp", str(path)], tmp_path / "out", capsys, str(path), BAD_FILES[kind])


def test_huge_dense_file_says_the_size_needed(tmp_path, capsys):
    path = _bad_mdp(tmp_path, "huge")
    _fails_cleanly(["verify", "--mdp", str(path)], tmp_path / "out", capsys, "3.2e+04 GB", "to_sparse")


BAD_OPTIONS = [
    (["--instance", "no_such_thing"], "unknown instance 'no_such_thing'"),
    (["--instance", "garnet:colour=3"], "no parameter(s) colour"),
    (["--instance", "garnet:S"], "not key=value"),
    (["--damping=-1e-3"], "λ must be ≥ 0"),
    (["--steps", "0"], "η must be > 0"),
    (["--steps=1,-2"], "η must be > 0"),
    (["--eps", "0"], "relative ε must be in (0, 1)"),
    (["--eps", "abc"], "not a number"),
    (["--methods", "r1-grad,newton"], "unknown method 'newton'; choose one of pg, npg"),
    (["--methods", "pg"], "pg is the reference"),
    (["--theta0", "instance"], "--theta0 instance"),
    (["--instance", "garnet", "--theta0", "instance"], "garnet has no recommended θ₀"),
    (["--only", "nope"], "matches no claim"),
]


@pytest.mark.parametrize(("flags", "needle"), BAD_OPTIONS, ids=[" ".join(f) for f, _ in BAD_OPTIONS])
def test_bad_option_is_one_line_exit_2(flags, needle, tmp_path, capsys):
    _fails_cleanly(["verify", *flags], tmp_path / "out", capsys, needle)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("only = [c1\n", "not valid TOML"),
        ('lambda = [1e-3]\nonly = "c1"\n', "unknown key(s) lambda; valid keys: mdp, instance, methods"),
        ("damping = true\n", "key damping must be a list"),
        ("mode = 'slow'\n", "key mode must be 'quick' or 'full'"),
        ("damping = [-1.0]\n", "λ must be ≥ 0"),
    ],
)
def test_bad_config_is_one_line_exit_2(text, needle, tmp_path, capsys):
    cfg = tmp_path / "study.toml"
    cfg.write_text(text)
    _fails_cleanly(["verify", "--config", str(cfg)], tmp_path / "out", capsys, needle)


def test_python_study_raises_before_writing(tmp_path):
    with pytest.raises(StudyError, match="η must be > 0"):
        proofs_checks.study([tabular_mdps.get("li_chain")], steps=[-1.0], out=tmp_path / "o")
    assert not (tmp_path / "o").exists()
    with pytest.raises(StudyError, match="not an MDP file, a catalog name or a TabularMDP"):
        proofs_checks.study([3], out=tmp_path / "o")  # type: ignore[list-item]


# --------------------------------------------------------------------------------------------- replay
RECORD = ROOT / "corpus" / "ascent.stated-step-r1-same-seed0.json"


def test_replay_exit_0_while_it_violates_and_1_once_it_does_not(tmp_path, capsys):
    assert main(["replay", str(RECORD)]) == 0
    assert "still violates" in capsys.readouterr().out
    for f in RECORD.parent.glob(RECORD.stem + "*"):
        shutil.copy(f, tmp_path / f.name)
    copy = tmp_path / RECORD.name
    rec = json.loads(copy.read_text())
    rec["theta"] = [[0.0] * len(rec["theta"][0])]  # the uniform policy: r1-same ascends there
    copy.write_text(json.dumps(rec))
    assert main(["replay", str(copy)]) == 1
    assert "no longer violates" in capsys.readouterr().out


def test_replay_of_a_bad_record_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text('{"format": "something else"}')
    _exit_2(["replay", str(bad)])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "not a counterexample record" in err
    _exit_2(["replay", str(tmp_path / "none.json")])


def test_figures_take_the_same_study(small, tmp_path, capsys):
    """`r1theory figures --mdp FILE --methods ...` draws the runs of that instance and those methods only."""
    out = tmp_path / "figs"
    code = main(["figures", "--only", "gap_curves", "--mdp", str(small), "--methods", "r1-grad", "--damping", "0.1",
                 "--steps", "0.1,1,10", "--out", str(out), "--no-progress", "--jobs", "1"])  # fmt: skip
    assert code == 0
    data = json.loads((out / "figures" / "gap_curves.json").read_text())
    assert [p["family"] for p in data["panels"]] == [small.name]
    assert [c["method"] for c in data["panels"][0]["curves"]] == ["pg", "r1-grad"]
    assert main(["figures", "--mdp", str(tmp_path / "missing.json"), "--out", str(out)]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_a_check_run_alone_takes_the_study(small, tmp_path):
    """`python -m proofs_checks.<module> --mdp FILE ...` runs that check on that instance and grid."""
    from proofs_checks.runner import module_main

    out = tmp_path / "alone"
    argv = ["--mdp", str(small), "--methods", "r1-grad", "--damping", "0.1", "--steps", "0.1,1,10", "--out", str(out)]
    assert module_main("proofs_checks.c1_faster_than_pg", argv) == 0
    rs = _results(out)
    assert rs and {r["claim"] for r in rs} == {C1} and {r["variant"] for r in rs} == {"r1-grad"}
    with pytest.raises(SystemExit) as exc:
        module_main("proofs_checks.c1_faster_than_pg", ["--damping", "-1", "--out", str(out)])
    assert exc.value.code == 2


def test_c2_runs_on_a_study_s_instances(small, tmp_path, monkeypatch):
    """C2 takes the study's instances like every check: its results are about that file, and only that file."""
    from dataclasses import replace

    from proofs_checks import c2_sample_complexity as c2

    real = c2.setting(True)
    tiny = replace(real, arms=real.arms[:2], budget=100, sched_budget=100, isqrt_budget=100, batches=(1, 4),
                   ratios=(0.01, 0.1, 1.0), seeds=2, fresh_seeds=2, sched_levels=3, n_boot=10, mc_draws=1000,
                   records=100)  # fmt: skip
    monkeypatch.setattr(c2, "setting", lambda quick: tiny)
    res = proofs_checks.study([small], claims="c2", out=tmp_path / "c2")
    assert res and {r.conditions["instance"] for r in res} == {small.name}
    assert {r.conditions["part"] for r in res} >= {"tuned", "schedule", "trapping", "bias"}
