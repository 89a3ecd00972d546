"""The PostgreSQL study store beside DuckDB: judgment writes, analysis frames, and `store copy`.

Builds the same synthetic study in a DuckDB file and in a throwaway PostgreSQL cluster (initdb +
pg_ctl, as the tests do): 200 overseers, 2,000 items with gold, N judgments written in group-commit
batches of 50 (as `sandwich serve` writes them). Prints, for each store: judgments/s written,
the time to read the analysis frames, and for PostgreSQL the COPY → polars read beside a
row-by-row fetch of the same query (the baseline COPY replaces); then DuckDB → PostgreSQL → DuckDB
copy times. Loopback, one process; fsync is off in the throwaway cluster (as in the tests), so the
write figure is an upper bound for a durable server.
Run: python benchmarks/store_postgres.py [--judgments 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pg_cluster import start_cluster

from sandwich.store import (
    GoldRecord,
    ItemRecord,
    JudgmentRecord,
    OverseerRecord,
    StudyContent,
    copy_study,
    open_store,
)


def content(n_overseers: int, n_items: int) -> StudyContent:
    items = [
        ItemRecord(f"item-{i:05d}", "multiple-choice", f"p{i}", "test", choices=["a", "b", "c", "d"])
        for i in range(n_items)
    ]
    gold = [GoldRecord(i.item_id, "ABCD"[n % 4], "file") for n, i in enumerate(items)]
    overseers = [OverseerRecord(f"ov-{n:04d}", "non_expert") for n in range(n_overseers)]
    return StudyContent({"study": "bench"}, items, gold, [], [], overseers, [])


def judgments(n: int, n_overseers: int, n_items: int) -> list[JudgmentRecord]:
    t0 = datetime(2026, 1, 1)
    return [
        JudgmentRecord(
            f"judgment-{k:08d}",
            f"a-{k}",
            f"ov-{k % n_overseers:04d}",
            f"item-{k % n_items:05d}",
            ["unassisted", "debate"][k % 2],
            "ABCD"[k % 3],
            75,
            None,
            12.5,
            None,
            False,
            False,
            False,
            "human",
            False,
            {"ua": "bench"},
            t0 + timedelta(microseconds=k),
        )
        for k in range(n)
    ]


def run(location: str | Path, rows: list[JudgmentRecord], study: StudyContent) -> dict[str, float]:
    st = open_store(location, create=True)
    try:
        st.write_study(study)
        t = time.perf_counter()
        for i in range(0, len(rows), 50):
            with st.transaction():
                st.add_judgments(rows[i : i + 50])
        write_s = time.perf_counter() - t
        t = time.perf_counter()
        frames = st.analysis_frames()
        frames_s = time.perf_counter() - t
        assert frames["judgments"].height == len(rows)
        out = {"judgments/s": len(rows) / write_s, "frames s": frames_s}
        if str(location).startswith("postgresql://"):  # the row-by-row baseline COPY replaces
            t = time.perf_counter()
            r = st._rows(
                "SELECT j.judgment_id, j.overseer, j.item_id, j.condition, j.choice, j.confidence, "  # type: ignore[attr-defined]
                "j.time_on_item_s, j.created_at, g.label FROM judgments j "
                "LEFT JOIN gold g ON g.item_id = j.item_id"
            )
            pl.DataFrame(r, orient="row", infer_schema_length=None)
            out["row-by-row s"] = time.perf_counter() - t
        return out
    finally:
        st.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--judgments", type=int, default=20000)
    args = ap.parse_args()
    study = content(200, 2000)
    rows = judgments(args.judgments, 200, 2000)
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            duck = Path(tmp) / "bench.duckdb"
            pg = cluster.url("bench")
            d, p = run(duck, rows, study), run(pg, rows, study)
            print(f"{args.judgments} judgments, batches of 50, one process, loopback")
            print(f"{'':24}{'DuckDB':>12}{'PostgreSQL':>12}{'PG/DuckDB':>11}")
            for key in ("judgments/s", "frames s"):
                print(f"{key:24}{d[key]:12.2f}{p[key]:12.2f}{p[key] / d[key]:11.2f}")
            print(
                f"PostgreSQL frames: COPY → polars {p['frames s']:.3f} s (3 frames) vs row-by-row fetch "
                f"{p['row-by-row s']:.3f} s (judgments only): ×{p['row-by-row s'] / p['frames s']:.1f}"
            )
            t = time.perf_counter()
            copy_study(duck, cluster.url("copied"))
            to_pg = time.perf_counter() - t
            t = time.perf_counter()
            copy_study(cluster.url("copied"), Path(tmp) / "back.duckdb")
            back = time.perf_counter() - t
            print(f"store copy DuckDB → PostgreSQL {to_pg:.2f} s, PostgreSQL → DuckDB {back:.2f} s")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
