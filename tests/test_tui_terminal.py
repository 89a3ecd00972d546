"""The real `sandwich label` command: in tmux as a person uses it, killed with -9 and reopened,
served to a browser, and refusing bad input with a clear message."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from db_sql import sql
from tui_support import add_assistance, create, write_study

from sandwich.service import StudyService
from sandwich.views import JudgmentIn

REPO = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TERM": "xterm-256color",
    "PYTHONPATH": str(REPO),
}
# CI installs tmux: there a missing tmux fails the test instead of skipping it
needs_tmux = pytest.mark.skipif(
    not os.environ.get("CI") and shutil.which("tmux") is None, reason="tmux is not installed (make system-deps)"
)


def stored(db: Path, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with StudyService(db, read_only=True) as svc:
        return sql(svc, query, params)


class Terminal:
    """`sandwich label` running in a detached tmux session of a fixed size, on a private tmux server."""

    def __init__(self, args: list[str], size: tuple[int, int] = (120, 40)) -> None:
        self.socket = f"sandwich-test-{uuid.uuid4().hex[:8]}"
        command = " ".join([sys.executable, "-m", "sandwich", "label", *args])
        self.tmux("new-session", "-d", "-s", "main", "-x", str(size[0]), "-y", str(size[1]), f"exec {command}")

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=ENV, timeout=20)
        return out.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        for k in keys:
            self.tmux("send-keys", "-t", "main", k)
            time.sleep(0.05)

    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "main", "#{pane_pid}").strip())

    def alive(self) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.socket, "has-session", "-t", "main"], capture_output=True, env=ENV
            ).returncode
            == 0
        )

    def wait_closed(self, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while self.alive() and time.monotonic() < end:
            time.sleep(0.1)
        assert not self.alive(), "the app did not exit"

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=ENV)
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / self.socket).unlink(missing_ok=True)


@pytest.fixture
def study(tmp_path: Path) -> tuple[Path, Path]:
    yaml = write_study(tmp_path)
    db = create(yaml)
    add_assistance(db)
    return yaml, db


def judge(term: Terminal, n: int, answer: str, *extra: str) -> None:
    """Begin the part's briefing, wait for item n, judge it."""
    term.wait_for("Before you start this part")
    term.keys("Enter")
    term.wait_for(f"Item {n} of 6")
    term.keys(*extra, answer, "+", "s")


@needs_tmux
def test_label_items_through_a_real_terminal(study):
    yaml, db = study
    term = Terminal([str(yaml), "--overseer", "ana"])
    try:
        judge(term, 1, "2")
        term.wait_for("Before you start this part")
        term.keys("Enter")
        term.wait_for("Item 2 of 6")
        shown = term.wait_for("Press a to open")  # the help starts closed
        assert "part 2/6: explain" in shown
        term.keys("a")
        term.wait_for("read the passage carefully")
        term.keys("1", "+", "+", "w", "because the passage says so", "Enter")  # Enter in the reason line submits
        judge(term, 3, "3")
        term.wait_for("Before you start this part")
        term.keys("C-q")
        term.wait_closed()
    finally:
        term.close()
    rows = stored(
        db,
        "SELECT a.position, j.choice, j.confidence, j.rationale, j.time_to_first_assist_s "
        "FROM judgments j JOIN assignments a USING (assignment_id) ORDER BY a.position",
    )
    assert [(r["position"], r["choice"], r["confidence"]) for r in rows] == [(0, "B", 50), (1, "A", 75), (2, "C", 50)]
    assert rows[1]["rationale"] == "because the passage says so" and rows[1]["time_to_first_assist_s"] is not None
    assert rows[0]["time_to_first_assist_s"] is None


@needs_tmux
def test_kill_9_loses_nothing_and_resumes(study):
    yaml, db = study
    term = Terminal([str(yaml), "--overseer", "ana"], size=(80, 24))
    try:
        judge(term, 1, "2")
        judge(term, 2, "1")
        term.wait_for("Before you start this part")
        term.keys("Enter")
        term.wait_for("Item 3 of 6")
        time.sleep(0.5)  # the item_shown interaction is written off the UI thread
        os.kill(term.pid(), signal.SIGKILL)
        term.wait_closed()
    finally:
        term.close()
    rows = stored(
        db, "SELECT a.position, j.choice FROM judgments j JOIN assignments a USING (assignment_id) ORDER BY a.position"
    )
    assert [(r["position"], r["choice"]) for r in rows] == [(0, "B"), (1, "A")]

    term = Terminal([str(yaml), "--overseer", "ana"], size=(80, 24))
    try:
        shown = term.wait_for("Welcome back")
        words = " ".join(w for w in shown.split() if w not in ("│", "┃", "▏", "▕"))  # unwrap the dialog's lines
        assert "You are at item 3 of 6, 2 of 6 saved." in words and "stopped unexpectedly" in words
        term.keys("Enter")
        judge(term, 3, "3")  # the part's briefing again as a reminder, then item 3 of 6
        term.wait_for("Before you start this part")
        term.keys("C-q")
        term.wait_closed()
    finally:
        term.close()
    third = stored(db, "SELECT assignment_id FROM assignments WHERE overseer = 'ana' AND position = 2")[0]
    events = stored(db, "SELECT event, assignment_id FROM interactions WHERE overseer = 'ana' ORDER BY ts")
    assert {"event": "interrupted", "assignment_id": third["assignment_id"]} in events
    assert [
        r["choice"]
        for r in stored(
            db, "SELECT choice FROM judgments j JOIN assignments a USING (assignment_id) ORDER BY a.position"
        )
    ] == ["B", "A", "C"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandwich", "label", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
        cwd=REPO,
    )


def test_bad_input_gets_a_clear_message(study, tmp_path):
    yaml, db = study
    out = run_cli(str(yaml), "--overseer", "zoe")
    assert out.returncode == 2 and "No overseer named 'zoe'" in out.stderr and "ana" in out.stderr
    assert "Traceback" not in out.stderr
    out = run_cli(str(tmp_path / "nope.yaml"), "--overseer", "ana")
    assert out.returncode == 2 and "nope.yaml" in out.stderr and "Traceback" not in out.stderr
    with StudyService(db) as svc:  # finish ben's session, then open it again
        session = svc.for_overseer("ben")
        while (v := session.next_item()) is not None:
            session.submit(
                JudgmentIn(judgment_id=uuid.uuid4().hex, assignment_id=v.assignment_id, choice="A", confidence=50)
            )
    out = run_cli(str(yaml), "--overseer", "ben")
    assert out.returncode == 0 and "All done" in out.stdout and "Thank you" in out.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_serves_the_same_app(study):
    import aiohttp
    import httpx

    yaml, _ = study
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandwich", "label", str(yaml), "--overseer", "ana", "--web", "--port", str(port)],
        env=ENV,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        end, page = time.monotonic() + 30, None
        while time.monotonic() < end and page is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                time.sleep(0.2)
        assert page is not None and page.status_code == 200 and "<html" in page.text.lower()

        async def first_screen() -> bytes:
            """What a browser's terminal receives: the app's own briefing screen."""
            async with aiohttp.ClientSession() as s, s.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
                await ws.send_str(json.dumps(["resize", {"width": 100, "height": 30}]))
                buf, stop = b"", time.monotonic() + 30
                while b"Before you start" not in buf and time.monotonic() < stop:
                    try:
                        msg = await asyncio.wait_for(ws.receive(), 2)
                    except TimeoutError:
                        continue
                    if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                        break
                    buf += msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                return buf

        assert b"Before you start" in asyncio.run(first_screen())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
