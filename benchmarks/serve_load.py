"""Load on `sandwich serve` from ONE asyncio process: DuckDB × 1 replica, PostgreSQL × 1 and × 2, side by side.

N overseer coroutines (httpx.AsyncClient) each work like the app — next item, submit — at a fixed pace
(--rate judgments/s each), and re-send a fraction of their submits with the same judgment_id, as a client
retrying after a lost answer would (with two replicas the re-send goes to the other one). One process
generates all the load so that the load generator's own CPU is small and measured, not 100 processes
competing with the server for the cores. Per configuration it reports accepted judgments/s, p50/p99 submit
latency, server CPU-seconds per judgment (the `sandwich serve` processes, and PostgreSQL's backends
separately, read from /proc through psutil), this process's CPU share, and lost and duplicated judgments
(read back from the store by judgment id; both must be 0, or the script exits 1).

    python benchmarks/serve_load.py                          # 100 overseers, 6/s each, 20 s per configuration
    python benchmarks/serve_load.py --overseers 20 --seconds 5
    python benchmarks/serve_load.py --pg-url postgresql://USER@HOST:PORT/DB   # an existing server (its CPU: n/a)

Without --pg-url a throwaway cluster is started (tests/pg_cluster.py: initdb + pg_ctl, fsync off as in the
tests; durability of a real deployment costs one WAL flush per group commit on top).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """What one configuration measured."""

    name: str
    acked: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # submit round trips, seconds
    errors: list[str] = field(default_factory=list)
    resent_ok: int = 0
    resent: int = 0
    behind: int = 0
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    db_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    lost: int = 0
    duplicated: int = 0
    extra: int = 0


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] if s else float("nan")


def cpu_s(procs: list[psutil.Process]) -> float:
    """CPU seconds (user + system) used so far by the processes and their children (gone ones count 0)."""
    total, seen = 0.0, set()
    for p in procs:
        try:
            family = [p, *p.children(recursive=True)]
        except psutil.Error:
            continue
        for q in family:
            if q.pid in seen:
                continue
            seen.add(q.pid)
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    return total


async def overseer(
    client: httpx.AsyncClient,
    other: httpx.AsyncClient,
    name: str,
    token: str,
    end: float,
    rate: float,
    resend: float,
    run: Run,
) -> None:
    """One simulated overseer: next item, submit, paced at `rate` judgments/s, until time is up or work is done."""
    loop = asyncio.get_running_loop()
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/v1/overseers/{name}"
    rng = random.Random(name)
    await asyncio.sleep(rng.random() / rate)  # spread the starts over one period
    t0, n = loop.time(), 0
    while loop.time() < end:
        due, now = t0 + n / rate, loop.time()
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:
            run.behind += 1
        n += 1
        try:
            r = await client.get(base + "/next", headers=headers)
            if r.status_code != 200 or r.content == b"null":
                if r.status_code != 200:
                    run.errors.append(f"next {r.status_code} {r.text[:200]}")
                return
            item = r.json()
            body = {
                "judgment_id": uuid.uuid4().hex,
                "assignment_id": item["assignment_id"],
                "choice": rng.choice(item["judgment"]["choices"]),
                "confidence": rng.choice(item["judgment"]["confidence"]),
                "time_on_item_s": round(rng.uniform(5, 60), 1),
            }
            sent = time.perf_counter()
            r = await client.post(base + "/judgments", json=body, headers=headers)
            run.latencies.append(time.perf_counter() - sent)
            if r.status_code != 200:
                run.errors.append(f"submit {r.status_code} {r.text[:200]}")
                continue
            receipt = r.json()
            run.acked.append(receipt["judgment_id"])
            if rng.random() < resend:  # a retry after a lost answer (on the other replica, if any): same receipt
                run.resent += 1
                again = await other.post(base + "/judgments", json=body, headers=headers)
                run.resent_ok += (
                    again.status_code == 200
                    and again.json()["duplicate"]
                    and again.json()["stored_at"] == receipt["stored_at"]
                )
        except httpx.HTTPError as e:
            run.errors.append(repr(e))


async def drive(urls: list[str], tokens: dict[str, str], seconds: float, rate: float, resend: float, run: Run) -> None:
    """All overseers at once; overseer k talks to replica k mod R (its re-sends to the next one)."""
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens) + 10)
    clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=30) for u in urls]
    try:
        end = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(
            *(
                overseer(
                    clients[k % len(clients)], clients[(k + 1) % len(clients)], name, token, end, rate, resend, run
                )
                for k, (name, token) in enumerate(sorted(tokens.items()))
            )
        )
    finally:
        for c in clients:
            await c.aclose()


def check_stored(db: Path | str, run: Run) -> None:
    """Count what the store holds by judgment id against what was acknowledged."""
    from sandwich.service import StudyService

    with StudyService(db, read_only=True) as svc:
        rows = svc.store.judgments()
    ids = [r.judgment_id for r in rows]
    per_assignment: dict[str, int] = {}
    for r in rows:
        per_assignment[r.assignment_id] = per_assignment.get(r.assignment_id, 0) + 1
    acked = set(run.acked)
    run.lost = len(acked - set(ids))
    run.extra = len(set(ids) - acked)
    run.duplicated = (
        (len(ids) - len(set(ids))) + sum(n - 1 for n in per_assignment.values()) + (len(run.acked) - len(acked))
    )


def measure(
    name: str,
    db: Path | str,
    replicas: int,
    tokens: dict[str, str],
    args: argparse.Namespace,
    work: Path,
    db_procs: list[psutil.Process] | None,
) -> Run:
    from sandwich.server.harness import ServerProcess

    run = Run(name)
    servers = [
        ServerProcess(db, log=work / f"{name}-{k}.log", extra_args=["--rate-limit", "0"]).start()
        for k in range(replicas)
    ]
    try:
        procs = [psutil.Process(s.proc.pid) for s in servers if s.proc is not None]
        me = psutil.Process()
        cpu0, db0, me0 = cpu_s(procs), cpu_s(db_procs) if db_procs else None, sum(me.cpu_times()[:2])
        t = time.perf_counter()
        asyncio.run(drive([s.url for s in servers], tokens, args.seconds, args.rate, args.resend, run))
        run.wall_s = time.perf_counter() - t
        run.server_cpu_s = cpu_s(procs) - cpu0
        run.db_cpu_s = cpu_s(db_procs) - db0 if db_procs and db0 is not None else None
        run.client_cpu_s = sum(me.cpu_times()[:2]) - me0
    finally:
        for s in servers:
            s.stop()
    check_stored(db, run)
    return run


def table(runs: list[Run], cores: int) -> str:
    """The runs side by side, with each one's ratio to the first (DuckDB, one replica)."""

    def per_j(r: Run, cpu: float | None) -> float | None:
        return None if cpu is None else 1000 * cpu / max(len(r.acked), 1)

    def total_cpu(r: Run) -> float:
        return r.server_cpu_s + (r.db_cpu_s or 0.0)

    rows: list[tuple[str, list[float | None], str]] = [
        ("accepted judgments/s", [len(r.acked) / r.wall_s for r in runs], "{:.0f}"),
        ("submit p50 latency, ms", [1000 * pct(r.latencies, 50) for r in runs], "{:.1f}"),
        ("submit p99 latency, ms", [1000 * pct(r.latencies, 99) for r in runs], "{:.1f}"),
        ("sandwich serve CPU ms / judgment", [per_j(r, r.server_cpu_s) for r in runs], "{:.2f}"),
        ("PostgreSQL CPU ms / judgment", [per_j(r, r.db_cpu_s) for r in runs], "{:.2f}"),
        ("server-side CPU ms / judgment (both)", [per_j(r, total_cpu(r)) for r in runs], "{:.2f}"),
        ("judgments per server CPU-second", [len(r.acked) / max(total_cpu(r), 1e-9) for r in runs], "{:.0f}"),
        ("load generator CPU share, % of a core", [100 * r.client_cpu_s / r.wall_s for r in runs], "{:.0f}"),
        ("load generator CPU ms / judgment", [per_j(r, r.client_cpu_s) for r in runs], "{:.2f}"),
        (
            "all CPU used, % of the machine",
            [100 * (total_cpu(r) + r.client_cpu_s) / r.wall_s / cores for r in runs],
            "{:.0f}",
        ),
        ("lost judgments", [r.lost for r in runs], "{:.0f}"),
        ("duplicated judgments", [r.duplicated for r in runs], "{:.0f}"),
        ("unacknowledged judgments stored", [r.extra for r in runs], "{:.0f}"),
        ("re-sent submits answered with the original receipt", [r.resent_ok for r in runs], "{:.0f}"),
        ("re-sent submits", [r.resent for r in runs], "{:.0f}"),
        ("errors", [len(r.errors) for r in runs], "{:.0f}"),
    ]
    head = ["", *[r.name for r in runs], *[f"{r.name} / {runs[0].name}" for r in runs[1:]]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, values, fmt in rows:
        cells = ["n/a" if v is None else fmt.format(v) for v in values]
        base = values[0]
        ratios = ["n/a" if v is None or not base else f"{v / base:.2f}" for v in values[1:]]
        lines.append("| " + " | ".join([label, *cells, *ratios]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--overseers", type=int, default=100)
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--items", type=int, default=200, help="items per overseer")
    ap.add_argument("--rate", type=float, default=6.0, help="judgments/s each overseer attempts")
    ap.add_argument("--seconds", type=float, default=20.0, help="per configuration")
    ap.add_argument("--resend", type=float, default=0.02, help="fraction of submits re-sent with the same id")
    ap.add_argument("--pg-url", help="an existing PostgreSQL database (default: a throwaway cluster)")
    args = ap.parse_args()

    from sandwich.server.harness import create_with_tokens, overseer_names, write_load_study

    work = Path(tempfile.mkdtemp(prefix="sandwich-load-"))
    names = overseer_names(args.overseers)
    study = write_load_study(work, questions=args.questions, overseers=args.overseers, items_per_overseer=args.items)
    cluster = None
    if args.pg_url:
        base_url, db_procs = args.pg_url.split("?")[0], None
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from pg_cluster import start_cluster

        cluster = start_cluster()
        base_url = f"postgresql://sandwich@127.0.0.1:{cluster.port}/postgres"
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        db_procs = [psutil.Process(postmaster)]
    cores = os.cpu_count() or 1
    print(
        f"{args.overseers} overseers × {args.rate:g} judgments/s offered ({args.overseers * args.rate:g}/s in "
        f"all), {args.seconds:g} s per configuration, {args.resend:.0%} re-sent; {cores} cores, load average "
        f"{os.getloadavg()[0]:.1f} at start"
    )
    runs: list[Run] = []
    try:
        for name, kind, replicas in (
            ("duckdb×1", "duckdb", 1),
            ("postgres×1", "postgres", 1),
            ("postgres×2", "postgres", 2),
        ):
            db: Path | str = (
                work / "load.duckdb" if kind == "duckdb" else f"{base_url}?schema=load_{uuid.uuid4().hex[:8]}"
            )
            t = time.perf_counter()
            tokens, _ = create_with_tokens(study, db, names)
            print(f"{name}: study created in {time.perf_counter() - t:.1f} s; running …", flush=True)
            runs.append(measure(name, db, replicas, tokens, args, work, db_procs if kind == "postgres" else None))
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"\nload average at end {os.getloadavg()[0]:.1f}\n")
    print(table(runs, cores))
    for r in runs:
        if r.errors:
            print(f"{r.name} first errors:", *r.errors[:3], sep="\n  ")
    raise SystemExit(0 if all(not (r.lost or r.duplicated or r.extra) for r in runs) else 1)


if __name__ == "__main__":
    main()
