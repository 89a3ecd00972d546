"""Load on `sandwich serve`: N overseers as separate processes, then an exactly-once check.

Creates a generated multiple-choice study in a temp dir, starts a real server
on 127.0.0.1, and runs N overseer processes. Each one works like the TUI
(next item → submit judgment) at a fixed pace (--rate judgments/s each), and
re-sends a fraction of its submits with the same judgment_id, as a client
retrying after a timeout would. Everything stops by itself after --seconds.
Afterwards the server is stopped and the database is checked: every
acknowledged judgment is there exactly once, and nothing else is.

Baseline, side by side: the same judgments through the in-process
`OverseerSession.submit` (one transaction each), one thread, no HTTP.

    python benchmarks/serve_load.py                 # 100 overseers, 6/s each, 20 s
    python benchmarks/serve_load.py --overseers 20 --seconds 5
"""

from __future__ import annotations

# Only the standard library at the top: the overseer processes import this module, and stay light.
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


def overseer(port: int, name: str, token: str, go: Any, seconds: float, rate: float, resend: float,
             ready: mp.Queue, out: mp.Queue) -> None:
    """One simulated overseer: next item, submit, paced at `rate` judgments/s, until time is up or work is done."""
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    base = f"/v1/overseers/{name}"
    rng = random.Random(name)
    acked, acked_at, dup_ok, latencies, errors, behind = [], [], 0, [], [], 0

    def call(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        con.request(method, base + path, body=body, headers=headers)
        r = con.getresponse()
        return r.status, r.read()

    ready.put(name)
    go.wait()  # every overseer process is up before anyone starts
    started_at = time.time()
    t0, n = time.monotonic(), 0
    end = t0 + seconds
    while time.monotonic() < end:
        due = t0 + n / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        elif now - due > 1.0:
            behind += 1
        n += 1
        try:
            status, body = call("GET", "/next")
            if status != 200 or body == b"null":
                break
            item = json.loads(body)
            judgment = json.dumps({"judgment_id": uuid.uuid4().hex, "assignment_id": item["assignment_id"],
                                   "choice": rng.choice(item["judgment"]["choices"]),
                                   "confidence": rng.choice(item["judgment"]["confidence"]),
                                   "time_on_item_s": round(rng.uniform(5, 60), 1), "source": "parametric"}).encode()
            sent = time.perf_counter()
            status, body = call("POST", "/judgments", judgment)
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                errors.append(f"{status} {body[:200]!r}")
                continue
            receipt = json.loads(body)
            acked.append(receipt["judgment_id"])
            acked_at.append(time.time())
            if rng.random() < resend:  # a retry after a lost answer: must return the same receipt, store nothing
                status, again = call("POST", "/judgments", judgment)
                dup_ok += status == 200 and json.loads(again)["duplicate"] and \
                    json.loads(again)["stored_at"] == receipt["stored_at"]
        except (OSError, http.client.HTTPException) as e:
            errors.append(repr(e))
            con.close()
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out.put({"name": name, "acked": acked, "acked_at": acked_at, "latencies": latencies, "errors": errors,
             "dup_ok": dup_ok, "behind": behind, "start": started_at, "end": time.time()})


def _loadavg() -> str:
    """The 1-minute load average (the machine may be shared: figures depend on it)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _health(port: int) -> dict:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    con.request("GET", "/v1/health")
    return json.loads(con.getresponse().read())


def pct(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s)) - 1))] if s else float("nan")


def baseline(db: Path, n: int) -> float:
    """Judgments/s through the in-process service, one transaction per submit (no HTTP, no group commit)."""
    import shutil

    from sandwich.service import StudyService
    from sandwich.views import JudgmentIn

    copy = db.with_name("baseline.duckdb")
    shutil.copyfile(db, copy)
    with StudyService(copy) as svc:
        judged = svc.store.judged()
        rows = [{"assignment_id": a.assignment_id, "overseer": a.overseer} for a in svc.store.assignments()
                if a.assignment_id not in judged][:n]
        sessions = {o: svc.for_overseer(o) for o in {r["overseer"] for r in rows}}
        t = time.perf_counter()
        for r in rows:
            s = sessions[r["overseer"]]
            s.submit(JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id=r["assignment_id"], skipped=True))
        return len(rows) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--overseers", type=int, default=100)
    ap.add_argument("--questions", type=int, default=2000)
    ap.add_argument("--items", type=int, default=200, help="items per overseer")
    ap.add_argument("--rate", type=float, default=6.0, help="judgments/s each overseer attempts")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--resend", type=float, default=0.02, help="fraction of submits re-sent with the same id")
    args = ap.parse_args()

    from sandwich.server.harness import ServerProcess, create_with_tokens, overseer_names, write_load_study
    from sandwich.service import StudyService

    work = Path(tempfile.mkdtemp(prefix="sandwich-load-"))
    names = overseer_names(args.overseers)
    t = time.perf_counter()
    study = write_load_study(work, questions=args.questions, overseers=args.overseers, items_per_overseer=args.items)
    tokens, _lead = create_with_tokens(study, work / "load.duckdb", names)
    print(f"study: {args.questions} questions, {args.overseers} overseers × {args.items} items "
          f"(created in {time.perf_counter() - t:.1f} s, {work})")

    server = ServerProcess(work / "load.duckdb").start()
    load = _loadavg()
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    ready: mp.Queue = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=overseer, args=(server.port, n, tokens[n], go, args.seconds, args.rate,
                                                args.resend, ready, out), daemon=True) for n in names]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    cpu_before = _cpu_s(server.proc.pid)
    go.set()
    results = [out.get(timeout=args.seconds + 120) for _ in procs]
    for p in procs:
        p.join(10)

    writer = _health(server.port)["writer"]
    server_cpu = _cpu_s(server.proc.pid) - cpu_before
    import resource

    client_cpu = sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime"))
    server.stop()

    acked = [j for r in results for j in r["acked"]]
    lat = [x * 1000 for r in results for x in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    # the window in which all N overseers were working at once
    lo, hi = max(r["start"] for r in results), min(r["end"] for r in results)
    in_window = sum(lo <= t <= hi for r in results for t in r["acked_at"])
    with StudyService(work / "load.duckdb", read_only=True) as svc:
        all_j = svc.store.judgments()
        per = {}
        for j in all_j:
            per[j.assignment_id] = per.get(j.assignment_id, 0) + 1
        stored = [{"judgment_id": j.judgment_id, "per_assignment": per[j.assignment_id]} for j in all_j]
    stored_ids = [r["judgment_id"] for r in stored]
    missing = set(acked) - set(stored_ids)
    extra = set(stored_ids) - set(acked)
    twice = len(stored_ids) - len(set(stored_ids)) + sum(r["per_assignment"] > 1 for r in stored)
    resent = sum(r["dup_ok"] for r in results)
    base = baseline(work / "load.duckdb", 300)

    ok = not missing and not extra and not twice and len(acked) == len(set(acked))
    print(f"overseers: {args.overseers} processes, {args.rate:g}/s each offered "
          f"({args.overseers * args.rate:g}/s in all), {span:.1f} s; load average before/after: {load} / "
          f"{_loadavg()}")
    print(f"accepted:  {len(acked)} judgments, {len(acked) / span:.0f} judgments/s over the run, "
          f"{in_window / max(hi - lo, 1e-9):.0f}/s while all {args.overseers} ran ({hi - lo:.1f} s) (target ≥ 500); "
          f"errors {len(errors)}; requests > 1 s behind schedule: {sum(r['behind'] for r in results)}")
    print(f"submit latency ms: p50 {pct(lat, 50):.1f}  p95 {pct(lat, 95):.1f}  p99 {pct(lat, 99):.1f}  "
          f"max {max(lat, default=float('nan')):.1f}  (target p99 ≤ 50)")
    print(f"server writer: {writer['batches']} transactions, mean {writer['mean_transaction_ms']} ms each, "
          f"{writer['committed'] / max(writer['batches'], 1):.1f} judgments per transaction, largest batch "
          f"{writer['max_batch']}")
    per = 1000 * server_cpu / max(len(acked), 1)
    print(f"CPU per judgment (next-item GET + submit POST): server {per:.2f} ms (≈ {1000 / max(per, 1e-9):.0f} "
          f"judgments/s per free core), overseer processes {1000 * client_cpu / max(len(acked), 1):.2f} ms "
          f"(incl. their start-up); cores here: {os.cpu_count()}")
    print(f"re-sent submits answered with the original receipt: {resent}")
    print(f"exactly once: {'yes' if ok else 'NO'} — acknowledged {len(acked)}, in database {len(stored_ids)}, "
          f"missing {len(missing)}, unacknowledged extra {len(extra)}, duplicated {twice}")
    print(f"baseline (in-process OverseerSession.submit, one transaction each, no HTTP): {base:.0f} judgments/s")
    if errors:
        print("first errors:", *errors[:5], sep="\n  ")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
