"""How a sandboxed run ends: waiting for it, killing it, reading its output, naming its ending.

Helpers of :mod:`sandwich.sandbox`, kept apart so that module stays about the
sandbox itself (mounts, namespaces, limits, the public calls).
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from sandwich.sandbox import SandboxLimits, Status

__all__ = ["classify_exit", "classify_failure", "cpu_limit_s", "kill_run", "read_capped", "signal_label", "wait_for"]


def cpu_limit_s(limits: SandboxLimits) -> int:
    # A little above the wall clock: the wall-clock timeout is the rule, the CPU
    # limit only backstops it if the host's waiting thread were ever starved.
    return int(math.ceil(limits.timeout_s)) + 1


def wait_for(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for ``proc``; True if it exited in time. A pidfd wakes us at once, no polling."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            return proc.wait(timeout) is not None
        except subprocess.TimeoutExpired:
            return False
    try:
        ready = select.select([fd], [], [], timeout)[0]
    finally:
        os.close(fd)
    return bool(ready) and proc.wait() is not None


def kill_run(proc: subprocess.Popen, status: IO[bytes] | None) -> None:
    """SIGKILL a run that is over time, leaving no process and no zombie behind."""
    if status is not None and proc.poll() is None:
        # Kill the pid namespace's init (the program, run as pid 1) first: the kernel
        # then kills every process in the namespace, and bwrap, still alive, reaps
        # it and exits. (Killing bwrap first would orphan it as a zombie.)
        status.seek(0)
        for line in status.read().decode(errors="replace").splitlines():
            try:
                pid = json.loads(line).get("child-pid")
            except ValueError:
                continue
            if isinstance(pid, int) and pid > 1:
                try:
                    os.kill(pid, signal.SIGKILL)  # still bwrap's unreaped child: the pid cannot be reused
                except ProcessLookupError:
                    pass
        try:
            proc.wait(timeout=2)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whole group; --die-with-parent ends the namespace too
    except ProcessLookupError:
        pass
    proc.wait()


def read_capped(f: IO[bytes], cap: int) -> tuple[str, int]:
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    text = f.read(cap).decode("utf-8", errors="replace")
    if size > cap:
        text += f"\n[... truncated: {size - cap} more bytes]"
    return text, size


def signal_label(sig: int, limits: SandboxLimits) -> str:
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    why = {
        "SIGXCPU": f" (CPU time limit {cpu_limit_s(limits)} s)",
        "SIGXFSZ": f" (output too large: file limit {limits.max_file_mb} MB)",
        "SIGSEGV": " (segmentation fault; possibly the memory limit)",
    }.get(name, "")
    return f"killed by {name}{why}"


def classify_exit(rc: int, stdout_size: int, stderr: str, limits: SandboxLimits, sandboxed: bool) -> tuple[Status, str]:
    if rc == 0:
        return "passed", "exit code 0"
    return classify_failure(rc, stdout_size, stderr, limits, sandboxed)


def classify_failure(
    rc: int, stdout_size: int, stderr: str, limits: SandboxLimits, sandboxed: bool
) -> tuple[Status, str]:
    """How a program that did not pass ended: 'crashed' (signal, a limit) or 'failed'."""
    # bubblewrap reports a child killed by signal N as exit code 128 + N.
    sig = rc - 128 if sandboxed and 128 < rc < 128 + 65 else (-rc if rc < 0 else 0)
    if sig:
        return "crashed", signal_label(sig, limits)
    if stdout_size >= limits.max_file_mb * 1024 * 1024:
        return "crashed", f"output too large (file limit {limits.max_file_mb} MB reached)"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    if last.startswith("MemoryError"):
        return "crashed", f"MemoryError (memory limit {limits.memory_mb} MB)"
    if last.startswith("BlockingIOError") and "Resource temporarily unavailable" in last:
        return "crashed", f"process limit reached ({limits.max_processes})"
    return "failed", f"exit code {rc}" + (f": {last[:200]}" if last else "")
