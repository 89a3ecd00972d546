"""Reading study files: YAML with line/column for every value, then the schema.

Errors come out as ``FILE:LINE:COL: field.path: what was wrong (expected …)``
so an editor can jump to them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import TypeAdapter, ValidationError

from sandwich.config import Study
from sandwich.errors import StudyFileError
from sandwich.study_checks import cross_field_problems

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class StudyFile:
    """A validated study together with its source text and that text's hash."""

    path: Path
    text: str
    study: Study

    @property
    def config_hash(self) -> str:
        """SHA-256 of the file's text: what the study database pins."""
        return config_hash(self.text)

    def resolve(self, relative: str) -> Path:
        """A path named in the study file, relative to the file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else (self.path.parent / p)


def config_hash(text: str) -> str:
    """Stable hash of a study file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


MAX_DEPTH = 32  # a study file is a few levels deep; more is a mistake or an attack
MAX_BYTES = 1_000_000  # a study file is a few kB; its data lives in task.source
ALIASES = "anchors and aliases (&name, *name) are not allowed in a study file; write the value out"
TOO_DEEP = f"value nested too deeply (more than {MAX_DEPTH} levels)"


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader for untrusted study files: no anchors or aliases (a 500-byte alias bomb expands to millions
    of nodes), no nesting deeper than MAX_DEPTH (the composer recurses once per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, ALIASES, event.start_mark)
        nests = isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        if nests:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, TOO_DEEP, event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            if nests:
                self._depth -= 1


def _build(
    node: yaml.Node,
    loc: Loc,
    marks: dict[Loc, tuple[int, int]],
    key_marks: dict[Loc, tuple[int, int]],
    loader: _MarkedLoader,
    problems: list[str],
    path: str,
) -> Any:
    marks[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if key in out:
                line, col = knode.start_mark.line + 1, knode.start_mark.column + 1
                problems.append(f"{path}:{line}:{col}: {_fmt(loc + (key,))}: key {key!r} appears twice")
            key_marks[loc + (key,)] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
            out[key] = _build(vnode, loc + (key,), marks, key_marks, loader, problems, path)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, loc + (i,), marks, key_marks, loader, problems, path) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _fmt(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _precheck(text: str) -> None:
    """Walk libyaml's events first: refuses aliases and deep nesting in microseconds.

    PyYAML's pure-Python scanner is quadratic in flow nesting (1,000 brackets take seconds), so the
    limits are applied on the C parser's event stream before the marked Python loader runs.
    """
    if not yaml.__with_libyaml__:
        return  # the Python loader applies the same limits, only more slowly
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            mark: Any = event.start_mark  # libyaml's Mark: same fields as yaml.error.Mark
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise yaml.composer.ComposerError(None, None, ALIASES, mark)
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise yaml.composer.ComposerError(None, None, TOO_DEEP, mark)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as e:
        if e.problem and "maximum nesting depth" in e.problem:  # libyaml's own limit (1,000 levels)
            raise yaml.composer.ComposerError(None, None, TOO_DEEP, e.problem_mark) from None
        raise


def parse_yaml(text: str, path: str) -> tuple[Any, dict[Loc, tuple[int, int]], dict[Loc, tuple[int, int]]]:
    """Parse YAML keeping the line/column of every value and key."""
    loader: _MarkedLoader | None = None
    try:
        _precheck(text)
        loader = _MarkedLoader(text)  # the reader checks for unprintable characters here
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else f"{path}:1:1"
        what = e.problem or str(e)
        if not what.startswith(("anchors and aliases", "value nested too deeply")):
            what = f"not valid YAML: {what}"
        raise StudyFileError(path, [f"{where}: {what}"]) from None
    except yaml.reader.ReaderError as e:  # a control character or bad encoding: it has a position, not a mark
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        char = f" (character U+{e.character:04X})" if isinstance(e.character, int) else ""
        raise StudyFileError(path, [f"{path}:{line}:{col}: not valid YAML: {e.reason}{char}"]) from None
    except yaml.YAMLError as e:  # any other parser failure still ends as a located error, never a traceback
        raise StudyFileError(path, [f"{path}:1:1: not valid YAML: {e}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise StudyFileError(path, [f"{path}:1:1: the study file is empty"])
    marks: dict[Loc, tuple[int, int]] = {}
    key_marks: dict[Loc, tuple[int, int]] = {}
    problems: list[str] = []
    data = _build(root, (), marks, key_marks, _MarkedLoader(""), problems, path)
    if problems:
        raise StudyFileError(path, problems)
    return data, marks, key_marks


def _where(
    loc: Loc, marks: dict[Loc, tuple[int, int]], key_marks: dict[Loc, tuple[int, int]], extra: bool
) -> tuple[int, int]:
    if extra and loc in key_marks:
        return key_marks[loc]
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return (1, 1)


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    # pydantic adds union-member tags ('code-review', 'function-after[...]') to locations; drop them
    from sandwich.tasks import kind as task_kinds

    tags = {*task_kinds.names(), "registered"}
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and p not in tags))


def _task_kinds() -> list[str]:
    from sandwich.tasks import kind as task_kinds

    return sorted(task_kinds.names())


def _describe(err: dict[str, Any]) -> str:
    msg: str = err["msg"]
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (remove it, or check its spelling against the documented fields)"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        tag = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
        return f"unknown task kind {tag!r} (expected one of: {', '.join(_task_kinds())})"
    if kind == "union_tag_not_found":
        return f"task needs a 'kind' (expected one of: {', '.join(_task_kinds())})"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    if "input" in err and not isinstance(err["input"], (dict, list)):
        return f"{msg} (got {err['input']!r})"
    return msg


def _sections(data: dict[str, Any]) -> dict[str, Any]:
    """Each top-level section validated on its own (None where it is invalid), for the cross-field checks."""
    out: dict[str, Any] = {}
    for name, field in Study.model_fields.items():
        if name not in data:
            out[name] = None if field.is_required() else field.get_default(call_default_factory=True)
            continue
        try:
            section: Any = Annotated[field.annotation, field]  # the field's type with its constraints
            out[name] = TypeAdapter(section).validate_python(data[name])
        except ValidationError:
            out[name] = None
    return out


def _located(
    loc: Loc,
    msg: str,
    marks: dict[Loc, tuple[int, int]],
    key_marks: dict[Loc, tuple[int, int]],
    path: str,
    at_key: bool = False,
) -> tuple[int, int, str]:
    line, col = _where(loc, marks, key_marks, at_key)
    return line, col, f"{path}:{line}:{col}: {_fmt(loc)}: {msg}"


def validate_text(text: str, path: str = "<study>") -> Study:
    """Validate study YAML text; raise StudyFileError listing every problem, each at its value's line:col.

    Field problems and cross-field problems are reported together, in file order: the cross-field checks
    (sandwich.study_checks) run on every section that is valid on its own.
    """
    data, marks, key_marks = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise StudyFileError(path, [f"{path}:1:1: a study file is a mapping of fields (study:, task:, …)"])
    found: list[tuple[int, int, str]] = []
    study: Study | None = None
    try:
        study = Study.model_validate(data, context={"collect_problems": True})
    except ValidationError as e:
        for err in e.errors():
            found.append(
                _located(
                    _clean_loc(err["loc"]),
                    _describe(dict(err)),
                    marks,
                    key_marks,
                    path,
                    err["type"] == "extra_forbidden",
                )
            )
    sections = {n: getattr(study, n) for n in Study.model_fields} if study is not None else _sections(data)
    if (
        study is None
        and sections.get("judgment") is not None
        and sections["judgment"].choices is None
        and sections.get("task") is not None
    ):
        sections["judgment"] = sections["judgment"].model_copy(
            update={"choices": _default_choices(sections["task"].kind)}
        )
    for loc, msg in cross_field_problems(sections):
        found.append(_located(loc, msg, marks, key_marks, path))
    if found:
        unique = list(dict.fromkeys(sorted(found)))
        raise StudyFileError(path, [m for _, _, m in unique])
    assert study is not None
    return study


def load_study(path: str | Path) -> StudyFile:
    """Read and validate a study file."""
    p = Path(path)
    if not p.exists():
        raise StudyFileError(str(p), [f"{p}: no such study file (check the path; example studies live in studies/)"])
    if p.is_dir():
        raise StudyFileError(str(p), [f"{p}: is a folder; give the path of a study .yaml file"])
    if p.stat().st_size > MAX_BYTES:
        too_big = (
            f"{p}:1:1: the study file is {p.stat().st_size:,} bytes; a study file is at most {MAX_BYTES:,} "
            "(items belong in the data file named by task.source)"
        )
        raise StudyFileError(str(p), [too_big])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise StudyFileError(str(p), [f"{p}: not UTF-8 text ({e.reason} at byte {e.start})"]) from None
    return StudyFile(path=p, text=text, study=validate_text(text, str(p)))


def _default_choices(kind: str) -> list[str] | str:
    """judgment.choices a task kind takes when the study file leaves them out."""
    from sandwich.tasks import kind as task_kinds

    found = task_kinds.find(kind)
    return found.default_choices if found is not None else "item"
