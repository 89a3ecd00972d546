"""The frozen plan's settings are typed study-file fields: sources, multiplicity, replicates and permutations."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from db_sql import sql
from study_files import write_mc_study

from sandwich.analysis import analyze_study
from sandwich.analysis.hypotheses import adjusted_p
from sandwich.create import create_study
from sandwich.errors import StudyFileError
from sandwich.rules import analysis_plan, plan_hash
from sandwich.sim.runner import simulate_study
from sandwich.studyfile import load_study

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]

PLAN = """preregistration:
  hypotheses:
    - {{id: H1, compare: [consult, unassisted]}}
    - {{id: H2, compare: [debate, unassisted]}}
  {settings}
"""


def _c10(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "c10"
    shutil.copytree(DATA / "c10-prereg-tamper", folder)
    db = folder / "s.duckdb"
    create_study(load_study(folder / "study.yaml"), db)
    return folder, db


def test_plan_settings_are_typed_fields_and_frozen_as_written(tmp_path: Path) -> None:
    path = write_mc_study(
        tmp_path,
        extra=PLAN.format(
            settings="sources: [human, llm]\n  multiplicity: holm\n  replicates: 500\n  permutations: 400"
        ),
    )
    study = load_study(path).study
    p = study.preregistration
    assert (p.sources, p.multiplicity, p.replicates, p.permutations) == (["human", "llm"], "holm", 500, 400)
    plan = analysis_plan(study, 36)
    assert (plan["sources"], plan["multiplicity"], plan["replicates"], plan["permutations"]) == (
        ["human", "llm"],
        "holm",
        500,
        400,
    )
    default = analysis_plan(load_study(write_mc_study(tmp_path, name="plain")).study, 36)
    assert (default["sources"], default["multiplicity"], default["replicates"], default["permutations"]) == (
        None,
        "none",
        2000,
        2000,
    )


@pytest.mark.parametrize(
    ("setting", "where", "what"),
    [
        ("sources: [human, robots]", r":22:20: preregistration\.sources\[1\]", "'human', 'llm' or 'parametric'"),
        ("multiplicity: holmes", r":22:17: preregistration\.multiplicity", "'none', 'holm' or 'bonferroni'"),
        ("replicates: 10", r":22:15: preregistration\.replicates", "greater than or equal to 50"),
        ("sources: [human, human]", r":22:12: preregistration\.sources", "each source once"),
    ],
)
def test_an_unknown_source_or_method_is_named_at_its_line(tmp_path: Path, setting: str, where: str, what: str) -> None:
    path = write_mc_study(tmp_path, extra=PLAN.format(settings=setting))
    assert path.read_text().splitlines()[21].strip() == setting  # line 22 of the file
    with pytest.raises(StudyFileError) as e:
        load_study(path)
    assert any(re.search(f"mc\\.yaml{where}: .*{re.escape(what)}", m) for m in e.value.problems), e.value.problems
    r = subprocess.run(
        [sys.executable, "-m", "sandwich", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert re.search(f"mc\\.yaml{where}", (r.stdout + r.stderr).replace("\n", ""))


def test_a_study_frozen_before_the_typed_fields_rechecks_untampered(tmp_path: Path) -> None:
    """The plan and hash the earlier code froze for the c10 study ('sources': 'all', read through defaults) still
    verify byte for byte, and the study re-checks as untampered and confirmatory; tampering is still seen."""
    old = json.loads((DATA / "prereg-frozen-before-typed-plan" / "frozen.json").read_text())
    assert plan_hash(old["plan"]) == old["hash"]
    folder, db = _c10(tmp_path)
    simulate_study(db, overseers=["ana"], with_model_alone=False)
    sql(db, "UPDATE preregistration SET hash = ?, plan = ?", [old["hash"], json.dumps(old["plan"])])
    res = analyze_study(db, replicates=100, permutations=200)
    assert res.preregistration is not None
    assert not res.tampered and res.preregistration["problems"] == [], res.preregistration["problems"]
    assert res.preregistration["hash"] == old["hash"] and res.preregistration["plan_hash"] == old["hash"]
    assert [h.label for h in res.hypotheses] == ["confirmatory (interim)"]
    assert res.sources == ["parametric"]  # 'all' never meant MIXED: analyze's default
    # declaring sources afterwards, consistently in the stored text and its hash, is a deviation
    text = sql(db, "SELECT value FROM meta WHERE key = 'config_text'")[0]["value"]
    new_text = text.replace("preregistration:\n", "preregistration:\n  sources: [llm]\n")
    assert new_text != text
    sql(db, "UPDATE meta SET value = ? WHERE key = 'config_text'", [new_text])
    sql(db, "UPDATE meta SET value = ? WHERE key = 'config_hash'", [hashlib.sha256(new_text.encode()).hexdigest()])
    after = analyze_study(db, replicates=100, permutations=200)
    assert after.tampered and any(
        "sources: frozen as None, now ['llm']" in p for p in after.preregistration["problems"]
    )


def test_the_plans_multiplicity_decides_the_verdicts(tmp_path: Path) -> None:
    """Two confirmatory hypotheses under Holm: the smaller p is doubled, the verdict follows the adjusted p."""
    assert np.allclose(adjusted_p(np.array([0.03, 0.01, 0.04]), "holm"), [0.06, 0.03, 0.06])
    assert np.allclose(adjusted_p(np.array([0.03, 0.01]), "bonferroni"), [0.06, 0.02])
    folder, db = _c10(tmp_path)
    study = (folder / "study.yaml").read_text()
    holm = study.replace(
        "alpha: 0.05}\n",
        "alpha: 0.05}\n"
        "    - {id: H2, compare: [critique, unassisted], metric: accuracy, alternative: greater}\n"
        "  multiplicity: holm\n  replicates: 300\n  permutations: 300\n",
    )
    assert holm != study
    (folder / "holm.yaml").write_text(holm)
    db = folder / "holm.duckdb"
    create_study(load_study(folder / "holm.yaml"), db)
    simulate_study(db, with_model_alone=False)
    res = analyze_study(db)
    assert res.replicates == 300 and res.permutations == 300 and res.multiplicity == "holm"
    ps = np.array([h.p for h in res.hypotheses])
    assert np.allclose([h.p_adjusted for h in res.hypotheses], adjusted_p(ps, "holm"))
    for h in res.hypotheses:
        assert h.verdict == ("supported" if h.p_adjusted < 0.05 else "not supported")
        assert "holm-adjusted over the 2 confirmatory hypotheses" in h.note
