"""The overseer app's speed: submit → next item rendered, and startup → first screen.

A 6-condition multiple-choice study with precomputed assistance for every item; one
overseer judges N items in the real app driven by Pilot. Printed side by side with
the service alone (submit + next item + progress + assistance, no UI) as the floor
the app cannot beat. Targets: p95 ≤ 50 ms per item; startup ≤ 1.5 s.

    python benchmarks/tui_latency.py [--items 204]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from tui_support import add_assistance, create, write_study  # noqa: E402

from sandwich.service import StudyService  # noqa: E402
from sandwich.views import JudgmentIn  # noqa: E402
from tui.app import OverseerApp  # noqa: E402
from tui.screens.briefing import BriefingScreen  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def service_floor(db: Path, n: int) -> list[float]:
    """What one submit costs without any UI: submit, then fetch the next item, progress and help."""
    out = []
    with StudyService(db) as svc:
        s = svc.for_overseer("ben")
        view = s.next_item()
        for _ in range(n):
            if view is None:
                break
            t0 = time.perf_counter()
            s.submit(
                JudgmentIn(
                    judgment_id=uuid.uuid4().hex,
                    assignment_id=view.assignment_id,
                    choice=view.judgment.choices[0],
                    confidence=view.judgment.confidence[0],
                )
            )
            view = s.next_item()
            s.progress()
            if view is not None and view.assistance_kinds:
                s.assistance(view.assignment_id)
            out.append(time.perf_counter() - t0)
    return out


async def in_app(db: Path, n: int) -> tuple[float, float, list[float], list[float], float]:
    """(startup → briefing, startup → first item, submit → next item painted as the app measures it,
    the same seen from outside through Pilot's key press and wait-for-idle)."""
    svc = StudyService(db)
    t_start = time.perf_counter()
    app = OverseerApp(svc.for_overseer("ana"), study_title="bench")
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, BriefingScreen):
            await pilot.pause(0.001)
        t_brief = time.perf_counter() - t_start
        t0 = time.perf_counter()
        await pilot.press("enter")
        while app.screen is not app.item_screen or app.item_screen.view is None:
            await pilot.pause(0.001)
        await pilot.pause()
        t_first = t_brief + time.perf_counter() - t0
        cpu0 = time.process_time()
        while len(latencies) < n:
            screen = app.item_screen
            if app.screen is not screen:  # a part's briefing: not part of the per-item figure
                if app.screen.__class__.__name__ == "DoneScreen":
                    break
                await pilot.press("enter")
                while app.screen is not screen:
                    await pilot.pause(0.001)
                await pilot.pause()
                continue
            before = screen.view.assignment_id
            await pilot.press("1", "plus")
            t0 = time.perf_counter()
            await pilot.press("s")
            while app.screen is screen and (screen.submitting or screen.view.assignment_id == before):
                await pilot.pause(0.0005)
            if app.screen is not screen:  # the next part begins with a briefing: skip this one
                continue
            await pilot.pause()  # until the new item has been painted
            latencies.append(time.perf_counter() - t0)
        painted = list(app.item_screen.latencies)
        cpu = (time.process_time() - cpu0) / max(1, len(latencies))
    svc.close()
    return t_brief, t_first, painted, latencies, cpu


def terminal_startup() -> float | None:
    """Seconds from launching `sandwich label` in a real terminal (tmux) to the first screen."""
    if shutil.which("tmux") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        db = create(write_study(Path(tmp)))
        sock = f"bench-{uuid.uuid4().hex[:6]}"
        cmd = f"exec {sys.executable} -m sandwich label {db} --overseer ana"
        t0 = time.perf_counter()
        subprocess.run(
            ["tmux", "-L", sock, "new-session", "-d", "-x", "120", "-y", "40", cmd],
            check=True,
            env={"PYTHONPATH": str(REPO), "TERM": "xterm-256color", "PATH": "/usr/bin:/bin"},
        )
        try:
            while time.perf_counter() - t0 < 30:
                screen = subprocess.run(
                    ["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True, text=True
                ).stdout
                if "Before you start" in screen:
                    return time.perf_counter() - t0
                time.sleep(0.01)
        finally:
            subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
            (Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / sock).unlink(missing_ok=True)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=204, help="items per overseer (a multiple of 6)")
    args = ap.parse_args()
    n = args.items - args.items % 6
    with tempfile.TemporaryDirectory() as tmp:
        db = create(write_study(Path(tmp), items_per_overseer=n, rows=n))
        add_assistance(db)
        floor = service_floor(db, n)
        t_brief, t_first, lat, outside, cpu = asyncio.run(in_app(db, n))
    real = terminal_startup()
    ms = 1000
    load = open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"(load average during the run: {load} on {os.cpu_count()} cores)")
    print(f"overseer app latency — {len(lat)} items, 6 conditions, precomputed help, Pilot at 120×40")
    print(f"{'':34}{'p50':>9}{'p95':>9}{'max':>9}")
    print(
        f"{'service only (no UI, the floor)':34}{pct(floor, 0.5) * ms:8.1f}ms{pct(floor, 0.95) * ms:8.1f}ms"
        f"{max(floor) * ms:8.1f}ms"
    )
    print(
        f"{'app: submit → next item rendered':34}{pct(lat, 0.5) * ms:8.1f}ms{pct(lat, 0.95) * ms:8.1f}ms"
        f"{max(lat) * ms:8.1f}ms   target p95 ≤ 50 ms: {'met' if pct(lat, 0.95) <= 0.05 else 'MISSED'}"
    )
    print(
        f"{'  same, seen through Pilot':34}{pct(outside, 0.5) * ms:8.1f}ms{pct(outside, 0.95) * ms:8.1f}ms"
        f"{max(outside) * ms:8.1f}ms   (adds Pilot's key delivery and wait-for-idle)"
    )
    print(f"startup → first screen (in process):   {t_brief:.2f} s;  → first item: {t_first:.2f} s")
    if real is not None:
        print(
            f"startup → first screen (real terminal, new process, tmux): {real:.2f} s   "
            f"target ≤ 1.5 s: {'met' if real <= 1.5 else 'MISSED'}"
        )
    print(
        f"mean per item: service {statistics.mean(floor) * ms:.1f} ms, app {statistics.mean(lat) * ms:.1f} ms; "
        f"CPU per item, whole process, keys + submit + next item: {cpu * ms:.1f} ms "
        "(what the wall figures shrink towards on an idle machine)"
    )


if __name__ == "__main__":
    main()
