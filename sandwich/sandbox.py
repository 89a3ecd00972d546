"""Run untrusted Python code in a bubblewrap sandbox.

Every run gets: no network (fresh network namespace, so even loopback refuses),
no view of the host's files but the system directories an interpreter needs
(``/usr`` and its ``/bin``, ``/lib*`` links, the loader cache, and the
interpreter's own prefix), all read-only, a small fresh tmpfs at ``/tmp`` as the
only writable place, its own pid namespace (when the program ends, every process
it started dies with it), rlimits on CPU time, address space, file size, open
files and processes, and a wall-clock timeout that SIGKILLs everything the run
started. bubblewrap itself starts with the same minimal environment as the
program, so no host variable (API keys, tokens) is readable anywhere inside, not
even through ``/proc/1/environ``. The program runs as pid 1 of its namespace
(``--as-pid-1``): bubblewrap then waits for it directly and exits only after
reaping it, so no run leaves a zombie behind, whoever the host's init is. Needs
bubblewrap 0.8 or newer.

Process limits need care when the host runs as root: the kernel does not enforce
RLIMIT_NPROC for uid 0, so a root caller first drops to an unprivileged uid
before starting bubblewrap. bubblewrap then creates a user namespace, and since
Linux counts processes per user namespace, RLIMIT_NPROC set inside the sandbox
bounds that one run only: parallel runs never share a process budget, and the
caller's own processes never count against it.

:func:`run_python` reports a program's *exit status*, which the program controls
(``os._exit(0)`` from anywhere). It is not evidence that tests passed: execution
gold goes through :func:`sandwich.sandbox_check.run_checks`, which is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Literal, TypeVar

from sandwich.sandbox_endings import classify_exit, cpu_limit_s, kill_run, read_capped, wait_for

__all__ = [
    "SandboxUnavailable",
    "SandboxLimits",
    "SandboxResult",
    "Status",
    "check_sandbox",
    "run_python",
    "run_many",
    "BWRAP",
    "SANDBOX_UID",
]

#: Path to the bwrap binary; ``None`` means "look it up on PATH at each call".
BWRAP: str | None = None
#: The unprivileged uid/gid a root caller drops to before entering the sandbox.
SANDBOX_UID: int = 65534

INSTALL_HINT = (
    "Install bubblewrap, e.g. 'sudo apt-get install bubblewrap' (Debian/Ubuntu) "
    "or 'sudo dnf install bubblewrap' (Fedora)."
)

Status = Literal["passed", "failed", "timeout", "crashed", "error"]


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox on this machine."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one run.

    ``memory_mb`` bounds each process's address space, so one run can hold at
    most ``max_processes * memory_mb``; keep both modest when many run at once.
    """

    timeout_s: float = 5.0
    memory_mb: int = 512  # address space of each process
    max_processes: int = 32  # processes + threads in the sandbox
    max_file_mb: int = 8  # largest file a process may write, stdout/stderr included
    max_output_bytes: int = 64_000  # how much of stdout/stderr is kept in the result


@dataclass(frozen=True)
class SandboxResult:
    """What happened to one program."""

    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    detail: str  # human label, e.g. 'killed by SIGXCPU (CPU time limit 6 s)'


# The sandboxed interpreter runs this before the program: the limits are set from
# inside the user namespace that bubblewrap created, so RLIMIT_NPROC counts only
# this run's processes. The program then runs as __main__ from a real file, so
# tracebacks show its source lines.
_PRELUDE = (
    "import resource as _r\n"
    "for _k, _v in {limits}: _r.setrlimit(_k, (_v, _v))\n"
    "del _r, _k, _v\n"
    "import sys as _s; _s.argv = ['solution.py']; del _s\n"
    "__file__ = 'solution.py'\n"
    "exec(compile(open(__file__, encoding='utf-8').read(), __file__, 'exec'))\n"
)
# All the host filesystem a run sees (read-only): what an interpreter and the shell
# tools in /usr need. Homes, /tmp, /run, /work, /etc and data directories stay out.
_SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
)
_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUTF8": "1",
}
_probe_lock = threading.Lock()
_probed: dict[str, tuple[str, str]] = {}  # bwrap path -> (version, interpreter) that ran a sandbox


def _bwrap_path() -> str | None:
    if BWRAP is not None:
        return BWRAP if os.access(BWRAP, os.X_OK) else None
    return shutil.which("bwrap")


def _rlimits(limits: SandboxLimits) -> list[tuple[int, int]]:
    import resource as r

    mb = 1024 * 1024
    return [
        (r.RLIMIT_CPU, cpu_limit_s(limits)),
        (r.RLIMIT_AS, limits.memory_mb * mb),
        (r.RLIMIT_FSIZE, limits.max_file_mb * mb),
        (r.RLIMIT_NPROC, limits.max_processes),
        (r.RLIMIT_NOFILE, 256),
        (r.RLIMIT_CORE, 0),
    ]


def _python_argv(python: str, limits: SandboxLimits) -> list[str]:
    # -S: no site import (fast start, no host packages); -B: no bytecode writes.
    return [python, "-S", "-B", "-c", _PRELUDE.format(limits=_rlimits(limits))]


def _interpreter_candidates() -> list[str]:
    """Interpreters to try in the sandbox, this one first.

    A root caller's sandbox runs as an unprivileged uid, which cannot reach an
    interpreter kept in a private directory (e.g. a pyenv build under /root);
    a system python of the same version, then any python3, stand in for it.
    """
    v = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = [
        os.path.realpath(sys.executable),
        getattr(sys, "_base_executable", ""),
        shutil.which(v, path=_ENV["PATH"]) or "",
        shutil.which("python3", path=_ENV["PATH"]) or "",
    ]
    out: list[str] = []
    for exe in found:
        if exe and os.path.realpath(exe) not in out:
            out.append(os.path.realpath(exe))
    return out


def _drop_ids(drop: bool = True) -> dict:
    """Popen kwargs that make a root caller run the sandbox as an unprivileged uid."""
    if not drop or os.geteuid() != 0:
        return {}
    return {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}


def _mounts(python: str) -> list[str]:
    """bubblewrap arguments that show the system paths, and the interpreter's prefix, read-only."""
    argv: list[str] = []
    prefix = os.path.dirname(os.path.dirname(python))  # bin/..
    paths = list(_SYSTEM_PATHS)
    if not any(prefix == p or prefix.startswith(p + "/") for p in paths):
        paths.append(prefix)  # e.g. a pyenv build outside /usr
    for path in paths:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            argv += ["--ro-bind", path, path]
    return argv


def _bwrap_argv(
    bwrap: str, python: str, limits: SandboxLimits, code_fd: int, status_fd: int, program: Sequence[str] | None = None
) -> list[str]:
    """The bubblewrap command line; ``program`` defaults to the plain interpreter with its prelude."""
    scratch = str(max(16, 4 * limits.max_file_mb) * 1024 * 1024)
    argv = [
        bwrap,
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--as-pid-1",
        "--hostname",
        "sandbox",
        *_mounts(python),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        scratch,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--size",
        scratch,
        "--tmpfs",
        "/tmp",
        "--file",
        str(code_fd),
        "/tmp/solution.py",
        "--remount-ro",
        "/",
        "--chdir",
        "/tmp",
        "--json-status-fd",
        str(status_fd),
        "--clearenv",
    ]
    for k, v in _ENV.items():
        argv += ["--setenv", k, v]
    return argv + ["--", *(program or _python_argv(python, limits))]


def _sandbox() -> tuple[str, str, str]:
    """(bwrap path, its version, interpreter) after a real sandboxed run; cached per bwrap path."""
    bwrap = _bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap ('bwrap') was not found, so untrusted code cannot be run safely. " + INSTALL_HINT
        )
    with _probe_lock:
        if bwrap not in _probed:
            try:
                version = (
                    subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
                    or "bubblewrap (unknown version)"
                )
            except (OSError, subprocess.SubprocessError) as e:
                raise SandboxUnavailable(f"could not run {bwrap}: {e}. " + INSTALL_HINT) from e
            failures = []
            for python in _interpreter_candidates():
                res = _run_sandboxed(bwrap, python, "import sys; sys.exit(0)", SandboxLimits(timeout_s=10))
                if res.status == "passed":
                    _probed[bwrap] = (version, python)
                    break
                failures.append(f"{python}: {res.detail}")
            else:
                why = " ".join(failures)
                hint = (
                    "It needs bubblewrap 0.8 or newer."
                    if "Unknown option" in why
                    else "It needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0, "
                    "kernel.unprivileged_userns_clone=1; on Ubuntu 24.04+ the AppArmor profile for bwrap)."
                    if "namespace" in why or "not permitted" in why
                    else f"The sandbox runs as uid {SANDBOX_UID} when called as root, so it needs a "
                    "Python interpreter that every user can read (e.g. 'apt-get install python3')."
                )
                raise SandboxUnavailable(
                    f"bubblewrap is installed ({version}) but could not run Python "
                    f"in a sandbox: {'; '.join(failures)}. {hint}"
                )
        version, python = _probed[bwrap]
        return bwrap, version, python


def check_sandbox() -> str:
    """Return the bubblewrap version after checking it really runs a sandbox here.

    Raises :class:`SandboxUnavailable` with a how-to-fix message otherwise.
    """
    return _sandbox()[1]


#: ``classify(returncode, stdout_size, stderr)`` -> (status, detail) of a run that ended in time.
Classifier = Callable[[int, int, str], "tuple[Status, str]"]


def _execute(
    make_argv: Callable[[int, int], list[str]],
    limits: SandboxLimits,
    code: str,
    *,
    sandboxed: bool,
    cwd: str | None = None,
    drop_ids: bool = True,
    pass_fds: Sequence[int] = (),
    classify: Classifier | None = None,
) -> SandboxResult:
    """Start ``make_argv(code_fd, status_fd)`` and turn its ending into a result.

    ``pass_fds`` are inherited by the program as well; ``classify`` replaces the
    exit-status rule for a run that ended in time and started.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryFile() as status,
        tempfile.TemporaryFile() as src,
    ):
        src.write(code.encode("utf-8"))
        src.flush()
        src.seek(0)
        argv = make_argv(src.fileno(), status.fileno())
        t0 = time.monotonic()
        try:
            # stdout/stderr go to files: RLIMIT_FSIZE caps them in the child and we
            # read back only max_output_bytes, so huge output never reaches our memory.
            # bwrap gets the minimal environment too: without --as-pid-1 its forked
            # init is pid 1 inside, and its environment is then /proc/1/environ.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(src.fileno(), status.fileno(), *pass_fds),
                cwd=cwd,
                env=dict(_ENV) if sandboxed else dict(_ENV, HOME=cwd or "/tmp"),
                start_new_session=True,
                **_drop_ids(drop_ids),
            )
        except OSError as e:
            return SandboxResult("error", None, "", str(e), 0.0, f"could not start: {e}")
        finished = wait_for(proc, limits.timeout_s)
        if not finished:
            kill_run(proc, status if sandboxed else None)
        duration = time.monotonic() - t0
        stdout, out_size = read_capped(out, limits.max_output_bytes)
        stderr, _ = read_capped(err, limits.max_output_bytes)
        status.seek(0)
        started = b'"child-pid"' in status.read() if sandboxed else True
    rc = proc.returncode
    if not finished:
        return SandboxResult(
            "timeout", None, stdout, stderr, duration, f"wall-clock timeout after {limits.timeout_s:g}s"
        )
    if not started:
        return SandboxResult(
            "error",
            rc,
            stdout,
            stderr,
            duration,
            "sandbox failed to start: " + (stderr.strip().splitlines() or ["?"])[-1],
        )
    status_, detail = (classify or (lambda r, o, e: classify_exit(r, o, e, limits, sandboxed)))(rc, out_size, stderr)
    return SandboxResult(status_, rc, stdout, stderr, duration, detail)


#: ``program(python)`` -> the argv that runs in the sandbox with that interpreter.
Program = Callable[[str], list[str]]


def _run_sandboxed(
    bwrap: str,
    python: str,
    code: str,
    limits: SandboxLimits,
    program: Program | None = None,
    pass_fds: Sequence[int] = (),
    classify: Classifier | None = None,
) -> SandboxResult:
    argv = program(python) if program else None
    return _execute(
        lambda code_fd, status_fd: _bwrap_argv(bwrap, python, limits, code_fd, status_fd, argv),
        limits,
        code,
        sandboxed=True,
        pass_fds=pass_fds,
        classify=classify,
    )


def _world_reachable(path: str) -> bool:
    """Whether any user may run ``path`` (every directory above it searchable by others)."""
    parts = path.split("/")
    try:
        dirs_ok = all(os.stat("/".join(parts[:i]) or "/").st_mode & 0o001 for i in range(1, len(parts)))
        return dirs_ok and bool(os.stat(path).st_mode & 0o001)
    except OSError:
        return False


def _run_unsandboxed(
    code: str,
    limits: SandboxLimits,
    program: Program | None = None,
    pass_fds: Sequence[int] = (),
    classify: Classifier | None = None,
) -> SandboxResult:
    with tempfile.TemporaryDirectory(prefix="sandwich-unsandboxed-") as d:
        path = os.path.join(d, "solution.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        python, drop = sys.executable, False
        if os.geteuid() == 0:
            # Still not root if we can help it: the process limit only holds for other uids.
            reachable = [p for p in _interpreter_candidates() if _world_reachable(p)]
            if reachable:
                python, drop = reachable[0], True
                os.chown(d, SANDBOX_UID, SANDBOX_UID)
                os.chown(path, SANDBOX_UID, SANDBOX_UID)
        argv = program(python) if program else _python_argv(python, limits)
        return _execute(
            lambda _c, _s: argv,
            limits,
            code,
            sandboxed=False,
            cwd=d,
            drop_ids=drop,
            pass_fds=pass_fds,
            classify=classify,
        )


def _warn_unsandboxed(reason: SandboxUnavailable, stacklevel: int) -> None:
    warnings.warn(
        f"RUNNING UNTRUSTED CODE WITHOUT A SANDBOX ({reason}) It can read and write your "
        "files and reach the network; only rlimits and a timeout apply.",
        RuntimeWarning,
        stacklevel=stacklevel + 1,
    )


def run_python(code: str, limits: SandboxLimits = SandboxLimits(), *, allow_unsandboxed: bool = False) -> SandboxResult:
    """Run ``code`` as a Python program in the sandbox and report what happened.

    Without a working bubblewrap this raises :class:`SandboxUnavailable`, unless
    ``allow_unsandboxed`` is set: then the code runs directly on the host with
    rlimits and the timeout only, after a loud warning.
    """
    try:
        bwrap, _, python = _sandbox()
    except SandboxUnavailable as e:
        if not allow_unsandboxed:
            raise
        _warn_unsandboxed(e, stacklevel=2)
        return _run_unsandboxed(code, limits)
    return _run_sandboxed(bwrap, python, code, limits)


def default_workers() -> int:
    """Parallel runs: a few per core, since each run also waits on namespace setup."""
    return max(2, 3 * (os.cpu_count() or 1))


def run_many(
    codes: Sequence[str],
    limits: SandboxLimits = SandboxLimits(),
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    allow_unsandboxed: bool = False,
) -> list[SandboxResult]:
    """Run many programs in parallel sandboxes; results keep the order of ``codes``.

    Threads drive the subprocesses. ``progress(done, total)`` is called from the
    calling thread after each result. ``allow_unsandboxed`` as in :func:`run_python`
    (one warning per call).
    """
    if not codes:
        return []
    try:
        bwrap, _, python = _sandbox()  # fail fast, once, before starting any thread

        def one(code: str) -> SandboxResult:
            return _run_sandboxed(bwrap, python, code, limits)
    except SandboxUnavailable as e:
        if not allow_unsandboxed:
            raise
        _warn_unsandboxed(e, stacklevel=2)

        def one(code: str) -> SandboxResult:
            return _run_unsandboxed(code, limits)

    return _map_parallel(one, codes, workers, progress)


T = TypeVar("T")


def _map_parallel(
    one: Callable[[T], SandboxResult],
    items: Sequence[T],
    workers: int | None,
    progress: Callable[[int, int], None] | None,
) -> list[SandboxResult]:
    """``[one(x) for x in items]`` on a thread pool, calling ``progress(done, total)`` after each."""
    results: list[SandboxResult | None] = [None] * len(items)
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        futures = {pool.submit(one, c): i for i, c in enumerate(items)}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if progress is not None:
                progress(done, len(items))
    return results  # type: ignore[return-value]  # every slot is filled: one future per item
