"""Judgment commit latency: p50/p99 over N submits to a real study file, through the study service.

Baseline side by side: a bare DuckDB INSERT of the same row (no validation, no
idempotency check), so the service's own overhead is visible.

    python benchmarks/judgment_commit.py [--n 10000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from sandwich.create import create_study
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import JudgmentIn


def build(folder: Path, n: int) -> Path:
    """A multiple-choice study with at least n assignments (between-subjects, 100 overseers)."""
    per = max(1, n // 100)
    rows = [
        {"id": f"q{i}", "question": f"Question {i}?", "choices": ["yes", "no", "maybe"], "answer": "A"}
        for i in range(per)
    ]
    (folder / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    names = ", ".join(f"o{i:03d}" for i in range(100))
    (folder / "s.yaml").write_text(f"""study: bench
question: commit latency
task: {{kind: multiple-choice, source: d.jsonl, split: {{train: 0.5}}}}
gold: {{kind: dataset-label}}
conditions: [{{name: unassisted}}]
overseers: {{design: between-subjects, non_experts: [{names}], items_per_overseer: {per}}}
judgment: {{choices: item, confidence: [50, 100]}}
""")
    db = folder / "s.duckdb"
    create_study(load_study(folder / "s.yaml"), db)
    return db


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=1000)[int(p * 10) - 1] if len(xs) > 1 else xs[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = build(Path(tmp), args.n)
        with StudyService(db) as svc:
            todo = [
                {"assignment_id": a.assignment_id, "overseer": a.overseer}
                for a in sorted(svc.store.assignments(), key=lambda a: a.assignment_id)
            ][: args.n]
            sessions = {o: svc.for_overseer(o) for o in {t["overseer"] for t in todo}}
            lat = []
            for i, t in enumerate(todo):
                j = JudgmentIn(
                    judgment_id=f"bench-{i:08d}",
                    assignment_id=t["assignment_id"],
                    choice="A",
                    confidence=50,
                    time_on_item_s=1.0,
                )
                t0 = time.perf_counter()
                sessions[t["overseer"]].submit(j)
                lat.append((time.perf_counter() - t0) * 1000)
        con = duckdb.connect(str(Path(tmp) / "raw.duckdb"))
        con.execute("CREATE TABLE j (id VARCHAR PRIMARY KEY, a VARCHAR, choice VARCHAR, confidence INT, ts TIMESTAMP)")
        raw = []
        for i in range(len(lat)):
            t0 = time.perf_counter()
            con.execute("INSERT INTO j VALUES (?, ?, 'A', 50, now())", [f"r{i}", f"a{i}"])
            raw.append((time.perf_counter() - t0) * 1000)
        con.close()
    print(f"judgment commits through the study service: n={len(lat)}")
    print(
        f"  service  p50 {pct(lat, 50):6.2f} ms   p99 {pct(lat, 99):6.2f} ms   mean {statistics.mean(lat):6.2f} ms"
        f"   target p99 <= 10 ms: {'met' if pct(lat, 99) <= 10 else 'MISSED'}"
    )
    print(f"  raw DuckDB INSERT (baseline)  p50 {pct(raw, 50):6.2f} ms   p99 {pct(raw, 99):6.2f} ms")
    print(f"  service / raw at p50: {pct(lat, 50) / pct(raw, 50):.1f}x")


if __name__ == "__main__":
    main()
