"""Reading study files: YAML with line/column for every value, then the schema.

Errors come out as ``FILE:LINE:COL: field.path: what was wrong (expected …)``
so an editor can jump to them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sandwich.config import Study
from sandwich.errors import StudyFileError

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


class _MarkedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent overwrite would hide a mistake)."""


def _build(node: yaml.Node, loc: Loc, marks: dict[Loc, tuple[int, int]], key_marks: dict[Loc, tuple[int, int]],
           loader: _MarkedLoader, problems: list[str], path: str) -> Any:
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


def parse_yaml(text: str, path: str) -> tuple[Any, dict[Loc, tuple[int, int]], dict[Loc, tuple[int, int]]]:
    """Parse YAML keeping the line/column of every value and key."""
    loader = _MarkedLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise StudyFileError(path, [f"{where}: not valid YAML: {e.problem or e}"]) from None
    finally:
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


def _where(loc: Loc, marks: dict[Loc, tuple[int, int]], key_marks: dict[Loc, tuple[int, int]], extra: bool) -> tuple[int, int]:
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

    return task_kinds.names()


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
            return msg[len(prefix):]
    if "input" in err and not isinstance(err["input"], (dict, list)):
        return f"{msg} (got {err['input']!r})"
    return msg


def validate_text(text: str, path: str = "<study>") -> Study:
    """Validate study YAML text; raise StudyFileError listing every problem with its place."""
    data, marks, key_marks = parse_yaml(text, path)
    if not isinstance(data, dict):
        raise StudyFileError(path, [f"{path}:1:1: a study file is a mapping of fields (study:, task:, …)"])
    try:
        return Study.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = _clean_loc(err["loc"])
            msg = _describe(err)
            if not loc and ": " in msg and msg.split(": ", 1)[0].replace(".", "").replace("_", "").isalnum():
                # cross-field checks name their own field first ("gold: …")
                field, msg = msg.split(": ", 1)
                loc = tuple(field.split("."))
            line, col = _where(loc, marks, key_marks, err["type"] == "extra_forbidden")
            problems.append(f"{path}:{line}:{col}: {_fmt(loc)}: {msg}")
        raise StudyFileError(path, problems) from None


def load_study(path: str | Path) -> StudyFile:
    """Read and validate a study file."""
    p = Path(path)
    if not p.exists():
        raise StudyFileError(str(p), [f"{p}: no such study file (check the path; example studies live in studies/)"])
    if p.is_dir():
        raise StudyFileError(str(p), [f"{p}: is a folder; give the path of a study .yaml file"])
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise StudyFileError(str(p), [f"{p}: not UTF-8 text ({e.reason} at byte {e.start})"]) from None
    return StudyFile(path=p, text=text, study=validate_text(text, str(p)))
