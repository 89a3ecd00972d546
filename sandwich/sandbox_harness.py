"""The test runner that executes inside the sandbox for execution gold.

Not imported by the host: :mod:`sandwich.sandbox_check` reads this file and runs
it as ``python -S -B -c <this source> <config json>`` (or from its compiled
code object), as pid 1 of the sandbox. The threat model and the proof of a pass
are described there.

Two processes. This one, the *runner*, never executes candidate code: it makes
itself non-dumpable (so no process of the same uid can ptrace it or open its
``/proc/<pid>/{fd,mem,environ}``), forks the *candidate* process before it has
read anything secret, and only then reads the job (hidden tests, entry point,
per-run nonce) from an inherited fd that the candidate process closed before
running a line of candidate code. The runner executes the tests itself; every
call to a candidate function is a request to the candidate process, whose
answer comes back as plain data (JSON with tagged tuples, dicts, sets), so no
candidate object, method or hook ever runs in the runner. When ``check()``
returns, the runner writes ``{nonce, status, detail}`` to the report fd, which
the candidate process never held.
"""

# The runner must survive anything the candidate does, so it catches BaseException
# on purpose; running code is its job; marshal data comes only from the host or the runner.
# ruff: noqa: BLE001, S102, S110
from __future__ import annotations

import marshal
import os
import sys

# The runner's imports (including those the tests make) must never come from the
# scratch dir the candidate can write: the working directory leaves sys.path first.
sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]

TYPE_CHECKING = False  # typing itself costs more to import than a whole run of the harness
if TYPE_CHECKING:
    from typing import Any, ClassVar

MAX_MESSAGE = 16 * 1024 * 1024  # bytes of one answer from the candidate process
SETUP_FAILED = 70  # exit status: the runner itself could not start (says nothing about the candidate)
PR_SET_DUMPABLE = 4

# ---------------------------------------------------------------- plain data on the wire
# Requests (runner -> candidate) are marshal data: trusted, and marshal is built in.
# Answers (candidate -> runner) are JSON read by the C scanner of ``_json``, a parser
# made for hostile input, into plain types only. The ``json`` and ``traceback``
# modules are not imported: through ``re`` they would cost more than the run.

_PLAIN = (bool, int, float, str, list, tuple, dict, set, frozenset, bytes, complex)


def encode(v: Any) -> str:
    """JSON text for plain data; tuples, dicts, sets, bytes and complex are tagged ``{"tag": [...]}``.

    Subclasses are lowered to their plain base (a Counter becomes a dict), so the
    runner only ever holds built-in values. Raises TypeError for anything else.
    """
    import _json

    if v is None:
        return "null"
    base = next((b for b in _PLAIN if isinstance(v, b)), None)
    if base is bool:
        return "true" if v else "false"
    if base is int:
        return int.__repr__(int(v))
    if base is float:
        f = float(v)
        if f - f == 0:  # finite
            return float.__repr__(f)
        return "Infinity" if f == float("inf") else "-Infinity" if f == float("-inf") else "NaN"
    if base is str:
        return _json.encode_basestring_ascii(str.__str__(v))
    if base is list:
        return "[" + ",".join(encode(x) for x in list.__iter__(v)) + "]"
    if base is dict:
        items = ",".join(f"[{encode(k)},{encode(x)}]" for k, x in dict.items(v))
        return '{"dict":[' + items + "]}"
    if base is bytes:
        return '{"bytes":"' + bytes(v).hex() + '"}'
    if base is complex:
        return '{"complex":[' + encode(complex(v).real) + "," + encode(complex(v).imag) + "]}"
    if base is not None:  # tuple, set, frozenset
        return '{"' + base.__name__ + '":[' + ",".join(encode(x) for x in list(v)) + "]}"
    raise TypeError(
        f"a {type(v).__name__} is not plain data (only None, bool, int, float, str, bytes, "
        "complex, list, tuple, dict, set, frozenset cross between the tests and the candidate)"
    )


class _ScanContext:
    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = staticmethod(
        {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__
    )
    memo: ClassVar[dict] = {}


def parse(text: str) -> Any:
    """Plain data from the JSON text of :func:`encode`; ValueError for anything else."""
    import _json

    try:
        # why the ignore below: make_scanner takes any object with JSONDecoder's attributes
        obj, end = _json.make_scanner(_ScanContext())(text, 0)  # type: ignore[arg-type]
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(text):
        raise ValueError("trailing data after the value")
    return _untag(obj)


def _untag(x: Any) -> Any:
    t = type(x)
    if x is None or t is bool or t is int or t is float or t is str:
        return x
    if t is list:
        return [_untag(y) for y in x]
    if t is dict and len(x) == 1:
        ((tag, val),) = x.items()
        if tag == "bytes" and type(val) is str:
            return bytes.fromhex(val)
        if type(val) is list:
            if tag == "tuple":
                return tuple(_untag(y) for y in val)
            if tag == "set":
                return {_untag(y) for y in val}
            if tag == "frozenset":
                return frozenset(_untag(y) for y in val)
            if tag == "dict" and all(type(kv) is list and len(kv) == 2 for kv in val):
                return {_untag(k): _untag(v) for k, v in val}
            if tag == "complex" and len(val) == 2 and all(type(p) is float for p in val):
                return complex(val[0], val[1])
    raise ValueError("malformed value")


def send(fd: int, data: bytes) -> None:
    data = len(data).to_bytes(8, "big") + data
    while data:
        data = data[os.write(fd, data) :]


def recv(fd: int) -> bytes | None:
    """The next message, or None at end of file."""
    head = _read_exactly(fd, 8)
    if head is None:
        return None
    n = int.from_bytes(head, "big")
    if n > MAX_MESSAGE:
        raise ValueError(f"{n} bytes in one answer (limit {MAX_MESSAGE})")
    return _read_exactly(fd, n)


def _read_exactly(fd: int, n: int) -> bytes | None:
    parts, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _print_exception(e: BaseException) -> None:
    """The usual traceback on stderr, printed by the interpreter's C code."""
    try:
        sys.__excepthook__(type(e), e, e.__traceback__)
    except BaseException:
        pass  # stderr full or closed


# ---------------------------------------------------------------- the candidate process


def serve_candidate(requests: int, answers: int) -> None:
    """Run the candidate's program, then answer calls from the runner. Never returns."""
    import builtins

    def flush() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

    try:
        sys.argv = ["solution.py"]
        ns: dict[str, Any] = {"__name__": "__main__", "__file__": "solution.py", "__builtins__": builtins}
        try:
            with open("solution.py", encoding="utf-8") as f:
                source = f.read()
            exec(compile(source, "solution.py", "exec"), ns)
        except BaseException as e:
            _print_exception(e)
            flush()
            send(answers, encode(("load-failed", type(e).__name__, str(e)[:500])).encode())
            os._exit(1)
        flush()
        send(answers, b'{"tuple":["loaded"]}')
        while True:
            msg = recv(requests)
            if msg is None:  # the runner is done
                flush()
                os._exit(0)
            _, name, args, kwargs = marshal.loads(msg)
            try:
                reply = encode(("value", ns[name](*args, **kwargs)))
            except BaseException as e:
                _print_exception(e)
                reply = encode(("raised", type(e).__name__, str(e)[:500], isinstance(e, Exception)))
            flush()
            send(answers, reply.encode())
    except BaseException:
        os._exit(1)


# ---------------------------------------------------------------- the runner


class CandidateFault(Exception):
    """The candidate process ended, exited, or answered something that is not plain data."""

    def __init__(self, message: str, status: str = "failed") -> None:
        super().__init__(message)
        self.status = status


class Channel:
    """The runner's end of the pipes to the candidate process."""

    def __init__(self, answers: int, requests: int, pid: int, memory_mb: int) -> None:
        self.answers, self.requests, self.pid, self.memory_mb = answers, requests, pid, memory_mb
        self.broken: CandidateFault | None = None  # once set, the run cannot pass
        self.reaped = False

    def fault(self, message: str, status: str = "failed") -> CandidateFault:
        self.broken = self.broken or CandidateFault(message, status)
        return CandidateFault(message, status)

    def ended(self, when: str) -> CandidateFault:
        import signal

        try:
            _, st = os.waitpid(self.pid, 0)
            self.reaped = True
        except ChildProcessError:
            return self.fault(f"the candidate process ended {when}")
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
            return self.fault(f"the candidate process was killed by {name} {when}", "crashed")
        return self.fault(f"the candidate process exited with status {os.WEXITSTATUS(st)} {when}")

    def receive(self, when: str) -> tuple:
        """The next answer, a tuple whose first item says what it is."""
        if self.broken:
            raise CandidateFault(str(self.broken), self.broken.status)
        try:
            data = recv(self.answers)
            msg = None if data is None else parse(data.decode("utf-8"))
        except (ValueError, RecursionError) as e:
            raise self.fault(
                f"the candidate process answered {when} with something that is not plain data ({e})"
            ) from None
        if data is None:
            raise self.ended(when)
        if type(msg) is not tuple or not msg or type(msg[0]) is not str:
            raise self.fault(f"the candidate process answered {when} with a malformed message")
        return msg

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        import builtins

        when = f"during a call to {name}()"
        try:
            request = marshal.dumps(("call", name, args, kwargs))
        except ValueError as e:
            raise HarnessError(f"the tests passed {name}() an argument the harness cannot send: {e}") from None
        if self.broken:
            raise CandidateFault(str(self.broken), self.broken.status)
        try:
            send(self.requests, request)
        except OSError:
            raise self.ended(when) from None
        msg = self.receive(when)
        if msg[0] == "value" and len(msg) == 2:
            return msg[1]
        if msg[0] != "raised" or len(msg) != 4 or [type(x) for x in msg[1:]] != [str, str, bool]:
            raise self.fault(f"the candidate process answered {when} with a malformed message")
        _, err, text, ordinary = msg
        if err == "MemoryError":
            raise self.fault(f"MemoryError in {name}() (memory limit {self.memory_mb} MB)", "crashed")
        exc = getattr(builtins, err, None)
        if not ordinary:  # SystemExit, KeyboardInterrupt, ...: never a pass, even if the tests go on
            raise self.fault(f"{name}() ended with {err}: {text}"[:300])
        # The tests see the built-in exception the candidate raised (or a stand-in for its
        # own class), so tests that expect an error work as they did in one process.
        if isinstance(exc, type) and issubclass(exc, Exception) and exc is not StopIteration:
            raised: Exception = exc(text)
        else:
            raised = CandidateError(f"{err}: {text}")
        # why the ignore below: a marker attribute read back by the harness's error handler
        raised.raised_by_candidate = name  # type: ignore[attr-defined]
        raise raised

    def close(self) -> None:
        """End the candidate process; it flushed its output before its last answer."""
        if not self.reaped:
            os.kill(self.pid, 9)  # SIGKILL
            os.waitpid(self.pid, 0)


class CandidateError(Exception):
    """Stands in for an exception of a class the candidate defined."""


class HarnessError(Exception):
    """The tests could not be run as written; says nothing about the candidate."""


class Remote:
    """Stands in, in the tests' namespace, for a function of the candidate's program."""

    def __init__(self, channel: Channel, name: str) -> None:
        self._channel, self.__name__ = channel, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.call(self.__name__, args, kwargs)


def _describe_failure(e: BaseException, test: str) -> str:
    """E.g. 'AssertionError at tests line 12: assert candidate([1.0], 0.5) == False'."""
    tb, where = e.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "tests.py":
            lines = test.splitlines()
            line = lines[tb.tb_lineno - 1].strip() if 0 < tb.tb_lineno <= len(lines) else ""
            where = f" at tests line {tb.tb_lineno}: {line[:160]}"
        tb = tb.tb_next
    name = type(e).__name__
    by = getattr(e, "raised_by_candidate", None)
    text = f"{name} raised by {by}(): {e}" if by else (f"{name}: {e}" if str(e) else name)
    return (text[:200] + where)[:400]


def run_tests(job: tuple[str, str, list[str]], channel: Channel) -> tuple[str, str]:
    """(status, detail): 'passed' only when ``check`` returned and the candidate process stayed sound."""
    import builtins

    test, entry_point, names = job
    hello = channel.receive("before the tests could run")
    if hello[0] != "loaded":
        error, message = (str(x) for x in (*hello[1:3], "?", "?")[:2])
        return "failed", f"the candidate program raised {error} before the tests ran: {message}"[:400]
    ns: dict[str, Any] = {"__name__": "hidden_tests", "__builtins__": builtins}
    for name in names:
        ns[name] = Remote(channel, name)
    try:
        exec(compile(test, "tests.py", "exec"), ns)
        ns["check"](Remote(channel, entry_point))
    except CandidateFault as e:
        return e.status, str(e)
    except HarnessError as e:
        return "error", str(e)
    except MemoryError:
        return "crashed", f"MemoryError in the tests (memory limit {channel.memory_mb} MB)"
    except BaseException as e:
        _print_exception(e)
        return "failed", _describe_failure(e, test)
    if channel.broken:  # a fault the tests caught and went on from
        return channel.broken.status, str(channel.broken)
    return "passed", "the tests ran to the end"


def _prctl(option: int, arg: int) -> int:
    """libc's prctl(2) through ``_ctypes`` alone (``ctypes`` costs a few ms more to import)."""
    import _ctypes

    class Int(_ctypes._SimpleCData):  # what ctypes calls c_int
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = Int

    libc = _ctypes.dlopen(None, 2)  # type: ignore[arg-type]  # RTLD_NOW: the program itself and the libc it links
    return Function(_ctypes.dlsym(libc, "prctl"))(option, arg, 0, 0, 0)


def main() -> None:
    limits, job_fd, job_offset, report_fd, memory_mb = parse(sys.argv[1])
    try:
        import resource

        for k, v in limits:
            resource.setrlimit(k, (v, v))
        if _prctl(PR_SET_DUMPABLE, 0) != 0:
            raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(0)
        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
    except BaseException as e:
        print(f"sandbox harness could not start: {e!r}", file=sys.stderr)
        os._exit(SETUP_FAILED)
    if pid == 0:
        try:
            # Before any candidate code runs: drop every fd that leads to the job or the report.
            for fd in (job_fd, report_fd, requests_w, answers_r):
                os.close(fd)
        except BaseException:
            os._exit(SETUP_FAILED)
        serve_candidate(requests_r, answers_w)
    os.close(requests_r)
    os.close(answers_w)
    size = os.fstat(job_fd).st_size - job_offset  # the job follows the harness's own code
    nonce, *job = marshal.loads(os.pread(job_fd, size, job_offset))  # written by the host
    os.close(job_fd)
    channel = Channel(answers_r, requests_w, pid, memory_mb)
    try:
        status, detail = run_tests(job, channel)
    except CandidateFault as e:
        status, detail = e.status, str(e)
    except BaseException as e:
        status, detail = "failed", f"{type(e).__name__} in the harness: {e}"[:400]
    os.pwrite(report_fd, f"{nonce}\n{status}\n{detail}".encode("utf-8", "replace"), 0)
    os.close(report_fd)
    channel.close()
    for stream in (sys.stdout, sys.stderr):  # what the tests printed
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(0 if status == "passed" else 1)


if __name__ == "__main__":
    main()
