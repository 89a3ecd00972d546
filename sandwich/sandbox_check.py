"""Execution gold that cannot be forged: a pass proves the hidden tests ran to the end.

A candidate passes when ``check(entry_point)`` from the hidden tests returns. The
old rule, "the program candidate + tests + ``check()`` exits with status 0", let
the candidate decide: ``os._exit(0)`` from an ``atexit`` hook, an exception
hook, the C library's ``_exit``, ``sys.exit(0)`` inside the tested function, or
a trace function that jumps over every ``assert`` all end with status 0.

Threat model. The candidate's code is hostile and runs with everything a Python
program has: ctypes, ``gc.get_objects()``, frame introspection, ``sys.settrace``,
signals, ``fork``, ``/proc``, its stdout/stderr, files in the scratch dir, and
any answer it likes to any call. It must not be able to (a) make a run that did
not finish the tests be labelled ``passed``, (b) read the hidden tests or the
per-run secret, (c) see anything of the host (environment, files, processes).
(c) is the sandbox's job (:mod:`sandwich.sandbox`). For (a) and (b) no secret
may live in a process that runs candidate code, since such a process can read
its own memory; so:

- The tests run in a separate *runner* process (pid 1 of the sandbox, see
  :mod:`sandwich.sandbox_harness`) that never executes candidate code. Calls to
  candidate functions are requests to a *candidate* process; answers come back
  as plain data (JSON with tagged tuples, dicts, sets), so the tests compare
  real ints and lists, never an object whose ``__eq__`` the candidate wrote.
  Names the tests use but do not define (e.g. ``poly`` in HumanEval/32) are
  candidate functions too, as in the original program.
- The runner makes itself non-dumpable before it forks the candidate process,
  so a process of the same uid cannot ptrace it or open its ``/proc/1/fd``,
  ``mem`` or ``environ``; as pid 1 of its namespace it ignores every signal a
  process inside sends it, SIGKILL included.
- The job (tests, entry point, a fresh 128-bit nonce) is in a file the host
  hands to the runner as an inherited fd; the candidate process closes its copy
  (and the report fd's) before the first line of candidate code runs, and is
  forked before the runner reads the job, so no copy is in its memory.
- Nothing the candidate writes reaches the runner: its imports (the tests'
  ``import random`` included) never look in the writable scratch dir.
- The runner writes ``{nonce, status, detail}`` to the report fd after
  ``check()`` returns; the host counts a pass only when that report names this
  run's nonce, says ``passed``, and the runner exited 0 in time. A candidate
  process that exits, is killed, raises ``SystemExit``, or answers with
  something that is not plain data can never pass, even if the tests catch the
  error. Everything else is ``failed``, ``crashed`` (a signal or a limit) or
  ``timeout``; ``error`` means the harness could not run and says nothing
  about the candidate.

Not covered: a candidate that computes the right answers is correct by this
definition, whatever else it does; tests that are too weak stay too weak. Tests
that call a helper the candidate defines (``poly`` in HumanEval/32,
``encode_cyclic`` in /38, ``encode_shift`` in /50) trust the candidate's helper,
as the original single program did; the gold of mutants of those helpers
depends on it. Without bubblewrap (``allow_unsandboxed``) the runner is not
pid 1: a candidate can kill it, which ends the run without a pass.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hmac
import importlib.util
import json
import marshal
import secrets
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from sandwich import sandbox
from sandwich.sandbox import SandboxLimits, SandboxResult, SandboxUnavailable, Status
from sandwich.sandbox_endings import classify_failure

__all__ = ["free_names", "run_check", "run_checks"]

HARNESS = Path(__file__).with_name("sandbox_harness.py").read_text(encoding="utf-8")
SETUP_FAILED = 70  # the harness's exit status when it could not start (see sandbox_harness)
_STATUSES = ("passed", "failed", "crashed", "error")


@functools.lru_cache(maxsize=256)  # each problem's tests serve several candidates
def free_names(test: str) -> list[str]:
    """Names the test code reads but neither defines nor gets from builtins: the candidate's.

    Raises ``SyntaxError`` if ``test`` is not Python, ``ValueError`` if it defines no ``check``.
    """
    tree = ast.parse(test)
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    defined |= {
        a.arg
        for n in ast.walk(tree)
        if isinstance(n, ast.arguments)
        for a in [*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg]
        if a is not None
    }
    defined |= {
        (a.asname or a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    }
    if not any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body):
        raise ValueError("the test code defines no check(candidate) function")
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(used - defined - set(dir(builtins)))


# Runs the harness from its code object at the start of the job file: compiling its
# source costs each run about as much CPU again as starting the interpreter.
_LOADER = "import marshal, os, sys; exec(marshal.loads(os.pread(int(sys.argv[2]), int(sys.argv[3]), 0)))"
_compiled: dict[str, bytes] = {}
_compiled_lock = threading.Lock()


def _compiled_harness(python: str) -> bytes:
    """The harness as marshalled bytecode if ``python`` reads this interpreter's bytecode, else b''."""
    with _compiled_lock:
        if python not in _compiled:
            try:
                probe = "import importlib.util as u, sys; sys.stdout.write(u.MAGIC_NUMBER.hex())"
                theirs = subprocess.run(
                    [python, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=30, check=False
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                theirs = ""
            same = theirs == importlib.util.MAGIC_NUMBER.hex()
            _compiled[python] = marshal.dumps(compile(HARNESS, "sandbox_harness.py", "exec")) if same else b""
        return _compiled[python]


def _read_report(f: IO[bytes], nonce: str) -> tuple[Status, str] | None:
    """The runner's verdict ('nonce\\nstatus\\ndetail'), if the report file holds one for this run."""
    f.seek(0)
    parts = f.read(64_000).decode("utf-8", "replace").split("\n", 2)
    if len(parts) != 3 or not hmac.compare_digest(parts[0], nonce) or parts[1] not in _STATUSES:
        return None
    # why the ignore below: parts[1] is checked to be one of the status Literals above
    return parts[1], parts[2]  # type: ignore[return-value]


Runner = Callable[[str, SandboxLimits, "sandbox.Program", Sequence[int], "sandbox.Classifier"], SandboxResult]


def _check(
    run: Runner, code: str, test: str, entry_point: str, limits: SandboxLimits, sandboxed: bool
) -> SandboxResult:
    try:
        names = free_names(test)
    except (SyntaxError, ValueError) as e:
        return SandboxResult("error", None, "", "", 0.0, f"the hidden tests cannot run: {e}")
    nonce = secrets.token_hex(16)
    with tempfile.TemporaryFile() as job_f, tempfile.TemporaryFile() as report_f:

        def program(python: str) -> list[str]:
            # The job file: [the harness's code object, if this interpreter can load it][the job].
            code_object = _compiled_harness(python)
            job_f.write(code_object + marshal.dumps((nonce, test, entry_point, names)))
            job_f.flush()
            cfg = json.dumps(
                [sandbox._rlimits(limits), job_f.fileno(), len(code_object), report_f.fileno(), limits.memory_mb]
            )
            # Not -I: the environment's PYTHONHASHSEED=0 keeps runs reproducible. The harness
            # drops the working directory from sys.path itself, before any candidate code runs.
            if code_object:
                return [python, "-S", "-B", "-c", _LOADER, cfg, str(job_f.fileno()), str(len(code_object))]
            return [python, "-S", "-B", "-c", HARNESS, cfg]

        def classify(rc: int, stdout_size: int, stderr: str) -> tuple[Status, str]:
            verdict = _read_report(report_f, nonce)
            if verdict and verdict[0] == "passed" and rc == 0:
                return verdict
            if stdout_size >= limits.max_file_mb * 1024 * 1024:
                return "crashed", f"output too large (file limit {limits.max_file_mb} MB reached)"
            if verdict and verdict[0] != "passed":
                return verdict
            if rc == SETUP_FAILED:
                return "error", "the test harness could not start: " + (stderr.strip().splitlines() or ["?"])[-1]
            status, detail = classify_failure(rc, stdout_size, stderr, limits, sandboxed)
            return status if status == "crashed" else "failed", f"no verdict from the test harness ({detail})"

        return run(code, limits, program, (job_f.fileno(), report_f.fileno()), classify)


def _runner(allow_unsandboxed: bool, stacklevel: int) -> tuple[Runner, bool]:
    try:
        bwrap, _, python = sandbox._sandbox()
    except SandboxUnavailable as e:
        if not allow_unsandboxed:
            raise
        sandbox._warn_unsandboxed(e, stacklevel=stacklevel + 1)
        return sandbox._run_unsandboxed, False
    return (
        lambda code, limits, program, fds, classify: sandbox._run_sandboxed(
            bwrap, python, code, limits, program, fds, classify
        )
    ), True


def run_check(
    candidate_code: str,
    test: str,
    entry_point: str,
    limits: SandboxLimits = SandboxLimits(),
    *,
    allow_unsandboxed: bool = False,
) -> SandboxResult:
    """Run the hidden ``test`` code's ``check(entry_point)`` against ``candidate_code`` in the sandbox.

    ``status`` is ``passed`` only on proof that ``check`` returned (see the module
    docstring); otherwise ``failed``, ``crashed``, ``timeout`` or ``error``.
    Raises :class:`SandboxUnavailable` without bubblewrap unless ``allow_unsandboxed``.
    """
    run, sandboxed = _runner(allow_unsandboxed, stacklevel=2)
    return _check(run, candidate_code, test, entry_point, limits, sandboxed)


def run_checks(
    cands: Sequence[tuple[str, str, str]],
    limits: SandboxLimits = SandboxLimits(),
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    allow_unsandboxed: bool = False,
) -> list[SandboxResult]:
    """:func:`run_check` for many ``(candidate_code, test, entry_point)`` triples, in parallel, in order.

    ``progress(done, total)`` is called from the calling thread after each result.
    """
    if not cands:
        return []
    run, sandboxed = _runner(allow_unsandboxed, stacklevel=2)
    return sandbox._map_parallel(lambda c: _check(run, c[0], c[1], c[2], limits, sandboxed), cands, workers, progress)
