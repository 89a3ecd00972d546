"""Execution gold that cannot be forged, tested with real bubblewrap and hostile candidates.

Every hostile candidate below is a *wrong* solution of HumanEval/0 (or one that
never lets the tests finish) that tries to get itself labelled ``passed``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sandwich import sandbox
from sandwich.sandbox import SandboxLimits, SandboxUnavailable, check_sandbox
from sandwich.sandbox_check import free_names, run_check, run_checks
from sandwich.tasks.code_review import load_problems
from sandwich.tasks.execution import execute_candidates

DATA = Path(__file__).resolve().parent / "data"
LIMITS = SandboxLimits(timeout_s=5.0, memory_mb=512)  # what `create` uses for gold: {timeout_s: 5}


def _bwrap_works() -> bool:
    try:
        check_sandbox()
        return True
    except SandboxUnavailable:
        return False


needs_bwrap = pytest.mark.skipif(not _bwrap_works(), reason="bubblewrap cannot run a sandbox here")


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return load_problems()


@pytest.fixture(scope="module")
def he0(problems: list[dict]) -> dict:
    return problems[0]  # has_close_elements


WRONG = "def has_close_elements(numbers, threshold):\n    return False\n"

# name -> a wrong candidate that tries to be labelled passed
FORGERIES = {
    "module-level os._exit(0)": "import os\nos._exit(0)\n" + WRONG,
    "module-level SystemExit(0)": WRONG + "raise SystemExit(0)\n",
    "sys.exit(0) in the tested function": "import sys\ndef has_close_elements(numbers, threshold):\n    sys.exit(0)\n",
    "os._exit(0) in the tested function": "import os\ndef has_close_elements(numbers, threshold):\n    os._exit(0)\n",
    "exits 0 from a thread while the tests run": "import os, threading, time\n"
    "threading.Thread(target=lambda: (time.sleep(0.01), os._exit(0)), daemon=True).start()\n"
    "def has_close_elements(numbers, threshold):\n    time.sleep(0.05)\n    return False\n",
    "an object equal to everything": WRONG.replace(
        "return False", "return type('Eq', (), {'__eq__': lambda s, o: True, '__hash__': lambda s: 0})()"
    ),
    "an int subclass equal to everything": "class Yes(int):\n    def __eq__(self, other):\n        return True\n"
    "    __hash__ = int.__hash__\n" + WRONG.replace("return False", "return Yes(0)"),
    "overrides builtins and check": "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n"
    "builtins.check = lambda candidate: None\ncheck = builtins.check\n" + WRONG,
    "a trace function that ends the process on any exception": "import os, sys\n"
    "def tracer(frame, event, arg):\n    if event == 'exception':\n        os._exit(0)\n    return tracer\n"
    "sys.settrace(tracer)\n" + WRONG,
    "prints and writes fake success everywhere": "import os\nprint('passed\\nexit code 0')\n"
    "for fd in range(3, 64):\n    try:\n        os.write(fd, b'x' * 32 + b'\\npassed\\nthe tests ran to the end')\n"
    "    except OSError:\n        pass\n" + WRONG,
    "SIGKILLs pid 1 and its parent": "import os, signal\n"
    "for pid in (1, os.getppid()):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
    "    except OSError:\n        pass\n" + WRONG,
}


@needs_bwrap
def test_c06_case_candidates_are_not_passed(he0: dict) -> None:
    """c06: the exit hook, exception hook and C-level _exit forgeries were labelled passed."""
    names = ["wrong.py", "atexit_exit0.py", "excepthook_exit0.py", "ctypes_exit0.py"]
    cands = [((DATA / "c06-exit-status-forgery" / n).read_text(), he0["test"], he0["entry_point"]) for n in names]
    canonical = (he0["prompt"] + he0["canonical_solution"], he0["test"], he0["entry_point"])
    results = execute_candidates([*cands, canonical], LIMITS)  # the path `create` takes for execution gold
    assert [r.status for r in results] == ["failed"] * 4 + ["passed"], [r.detail for r in results]
    assert "AssertionError at tests line" in results[0].detail  # the failing assertion, not an exit code
    assert "AssertionError" in results[1].detail and "AssertionError" in results[2].detail
    assert "exited with status 0 during a call to has_close_elements()" in results[3].detail


@needs_bwrap
def test_hostile_candidates_never_pass(he0: dict) -> None:
    results = run_checks([(code, he0["test"], he0["entry_point"]) for code in FORGERIES.values()], LIMITS)
    labels = {name: (r.status, r.detail) for name, r in zip(FORGERIES, results, strict=True)}
    assert all(r.status in {"failed", "crashed"} for r in results), labels
    assert (
        "exited with status 0" in labels["sys.exit(0) in the tested function"][1]
        or "SystemExit" in labels["sys.exit(0) in the tested function"][1]
    )
    assert "not plain data" in labels["an object equal to everything"][1]
    assert "before the tests" in labels["module-level os._exit(0)"][1]


@needs_bwrap
def test_tests_that_swallow_errors_still_do_not_pass_a_dead_candidate() -> None:
    """A candidate that exits during a call cannot pass, even if the tests catch the error and go on."""
    test = "def check(candidate):\n    try:\n        candidate(1)\n    except Exception:\n        pass\n"
    dead = run_check("import sys\ndef f(x):\n    sys.exit(0)\n", test, "f", LIMITS)
    assert dead.status == "failed" and "SystemExit" in dead.detail
    alive = run_checks(
        [
            ("def f(x):\n    raise ValueError('no')\n", test, "f"),
            ("class Oops(Exception):\n    pass\ndef f(x):\n    raise Oops('no')\n", test, "f"),
        ],
        LIMITS,
    )
    assert [r.status for r in alive] == ["passed", "passed"]  # ordinary exceptions the tests expect are fine


@needs_bwrap
def test_candidate_cannot_see_the_runner_the_tests_or_the_nonce(he0: dict) -> None:
    probe = textwrap.dedent("""
        import os
        marker = b"3.9, 4.0, 5.0, " + b"2.2], 0.3"  # from the hidden tests of HumanEval/0
        seen = []
        for path in ("/proc/1/environ", "/proc/1/mem", "/proc/1/cmdline", "/proc/1/fd", "/proc/1/maps"):
            try:
                data = os.listdir(path) if path.endswith("fd") else open(path, "rb").read(100000)
                seen.append(f"{path}: readable")
            except OSError as e:
                seen.append(f"{path}: {type(e).__name__}")
        try:
            import ctypes
            seen.append(f"ptrace attach to 1: {ctypes.CDLL(None, use_errno=True).ptrace(16, 1, 0, 0)}")
        except Exception as e:
            seen.append(f"ptrace: {e}")
        leaked = []
        for fd in range(3, 256):
            try:
                data = os.pread(fd, 1 << 20, 0)
            except OSError:
                continue
            if marker in data:
                leaked.append(fd)
        tmp = {n: open("/tmp/" + n, "rb").read() for n in os.listdir("/tmp") if os.path.isfile("/tmp/" + n)}
        seen.append(f"tests in an fd: {leaked}; tests in /tmp: {[n for n, d in tmp.items() if marker in d]}")
        print("\\n".join(seen))
        def has_close_elements(numbers, threshold):
            return False
    """)
    r = run_check(probe, he0["test"], he0["entry_point"], LIMITS)
    assert r.status == "failed"
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    assert lines["/proc/1/environ"] == "PermissionError" and lines["/proc/1/mem"] == "PermissionError"
    assert lines["/proc/1/fd"] == "PermissionError"
    assert lines["ptrace attach to 1"] == "-1"
    assert lines["tests in an fd"] == "[]; tests in /tmp: []"


@needs_bwrap
def test_correct_candidates_pass_with_helpers_tuples_output_and_expected_errors(problems: list[dict]) -> None:
    """Tests that call the prompt's helpers (HumanEval/32, 38, 50), tuples (8), dicts (111), prints."""
    picked = [problems[i] for i in (8, 32, 33, 38, 50, 111)]
    cands = [(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"]) for p in picked]
    noisy = (
        "import sys\ndef f(x):\n    print('thinking', x)\n    print('warn', file=sys.stderr)\n"
        "    return {'a': (x, [1.5, None, True]), 'b': {1, 2}, 'c': b'z', 'd': -0.0, 'e': 10 ** 5000}\n"
    )
    test = (
        "def check(candidate):\n    v = candidate(2)\n    assert v == {'a': (2, [1.5, None, True]), 'b': {1, 2}, "
        "'c': b'z', 'd': 0.0, 'e': 10 ** 5000}\n    assert type(v['a']) is tuple and type(v['b']) is set\n"
    )
    results = run_checks([*cands, (noisy, test, "f")], LIMITS)
    assert [r.status for r in results] == ["passed"] * 7, [(r.detail, r.stderr[-300:]) for r in results]
    assert results[-1].stdout == "thinking 2\n" and "warn" in results[-1].stderr


@needs_bwrap
def test_endings_are_labelled(he0: dict) -> None:
    test = "def check(candidate):\n    assert candidate(3) == 3\n"
    cases = {
        "raises": ("def f(x):\n    return 1 / 0\n", "failed", "ZeroDivisionError raised by f(): division by zero"),
        "syntax": ("def f(x)\n    return x\n", "failed", "raised SyntaxError before the tests ran"),
        "loops": ("def f(x):\n    while True:\n        pass\n", "timeout", "wall-clock timeout after 2s"),
        "balloon": (
            "def f(x):\n    a = []\n    while True:\n        a.append(bytearray(50 << 20))\n",
            "crashed",
            "MemoryError in f() (memory limit 256 MB)",
        ),
        "segfault": ("import ctypes\ndef f(x):\n    ctypes.string_at(0)\n", "crashed", "killed by SIGSEGV"),
        "output": (
            "import sys\ndef f(x):\n    while True:\n        sys.stdout.write('x' * 100000)\n",
            "crashed",
            "output too large",
        ),
    }
    limits = SandboxLimits(timeout_s=2.0, memory_mb=256, max_file_mb=4)
    results = run_checks([(code, test, "f") for code, _, _ in cases.values()], limits)
    got = {name: (r.status, r.detail) for name, r in zip(cases, results, strict=True)}
    for name, (_, status, detail) in cases.items():
        assert got[name][0] == status and detail in got[name][1], (name, got[name])


def test_broken_tests_are_an_error_not_a_verdict() -> None:
    assert free_names("def check(candidate):\n    assert poly([1], 2) == candidate(1)\n") == ["poly"]
    with pytest.raises(ValueError, match="no check"):
        free_names("def test(candidate):\n    pass\n")
    r = run_check("def f(x):\n    return x\n", "def check(candidate)\n    pass\n", "f")
    assert r.status == "error" and "hidden tests cannot run" in r.detail


@needs_bwrap
def test_all_canonical_solutions_pass(problems: list[dict]) -> None:
    """The existing gold of studies/humaneval-review.yaml must not change: every reference solution passes."""
    results = execute_candidates(
        [(p["prompt"] + p["canonical_solution"], p["test"], p["entry_point"]) for p in problems], LIMITS
    )
    bad = [(p["task_id"], r.status, r.detail) for p, r in zip(problems, results, strict=True) if r.status != "passed"]
    assert len(problems) == 164 and not bad


def test_forgeries_fail_unsandboxed_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, he0: dict) -> None:
    """Without bubblewrap (allowed explicitly) the proof of a pass is the same."""
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "no-bwrap-here"))
    with pytest.raises(SandboxUnavailable):
        run_check(WRONG, he0["test"], he0["entry_point"])
    forged = (DATA / "c06-exit-status-forgery" / "atexit_exit0.py").read_text()
    with pytest.warns(RuntimeWarning, match="WITHOUT A SANDBOX"):
        results = run_checks(
            [
                (forged, he0["test"], he0["entry_point"]),
                (he0["prompt"] + he0["canonical_solution"], he0["test"], he0["entry_point"]),
            ],
            LIMITS,
            allow_unsandboxed=True,
        )
    assert [r.status for r in results] == ["failed", "passed"]


@needs_bwrap
def test_harness_from_source_when_bytecode_cannot_be_shared(monkeypatch: pytest.MonkeyPatch, he0: dict) -> None:
    """An interpreter of another Python version gets the harness as source; the verdicts are the same."""
    from sandwich import sandbox_check

    monkeypatch.setattr(sandbox_check, "_compiled_harness", lambda python: b"")
    forged = (DATA / "c06-exit-status-forgery" / "ctypes_exit0.py").read_text()
    results = run_checks(
        [
            (forged, he0["test"], he0["entry_point"]),
            (he0["prompt"] + he0["canonical_solution"], he0["test"], he0["entry_point"]),
        ],
        LIMITS,
    )
    assert [r.status for r in results] == ["failed", "passed"]


@needs_bwrap
def test_runs_are_reproducible_and_the_runner_imports_nothing_from_the_scratch_dir(problems: list[dict]) -> None:
    """String hashing is seeded as in a plain run (set order is the same every time), and a
    ``random.py`` the candidate writes to the working directory is not what the tests import."""
    code = (
        "import sys\nopen('random.py', 'w').write('raise SystemExit(0)\\n')\n"
        "def f(x):\n    return [sys.flags.hash_randomization, hash('sandwich'), list({'a', 'b', 'c', 'd'})]\n"
    )
    test = "def check(candidate):\n    import random\n    assert random.random() < 1\n    print(candidate(0))\n"
    runs = run_checks([(code, test, "f")] * 2, LIMITS)
    assert [r.status for r in runs] == ["passed", "passed"], [r.detail for r in runs]
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.startswith("[0, ")  # PYTHONHASHSEED=0
    he53 = problems[53]  # its tests `import random` after the candidate has run
    r = run_check(
        "open('random.py', 'w').write('def randint(a, b):\\n    return 0\\n')\ndef add(x, y):\n    return 0\n",
        he53["test"],
        he53["entry_point"],
        LIMITS,
    )
    assert r.status == "failed"
