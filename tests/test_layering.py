"""Layering: the core (`sandwich`) and the app (`tui`) do not import the model side (`assistants`), except the
CLI and the composition defaults, so the two packages have no import cycle. Scans every import statement."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# the composition root: the CLI wires the model side in; sandwich/compose.py only names it (no import statement)
ALLOWED = ("sandwich/cli/",)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import statement in a file, at any depth (function-level imports too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def offenders(root: Path, package: str, forbidden: str, allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(allowed):
            continue
        found += [
            f"{rel}:{line}: imports {mod}"
            for line, mod in imports(path)
            if mod == forbidden or mod.startswith(forbidden + ".")
        ]
    return found


def test_the_core_does_not_import_the_model_side() -> None:
    assert offenders(REPO, "sandwich", "assistants", ALLOWED) == []


def test_the_app_does_not_import_the_model_side_or_the_cli() -> None:
    assert offenders(REPO, "tui", "assistants") == []
    assert offenders(REPO, "tui", "sandwich.cli") == []


def test_the_scan_finds_a_function_level_import(tmp_path: Path) -> None:
    (tmp_path / "sandwich").mkdir()
    (tmp_path / "sandwich" / "service.py").write_text("def f():\n    from assistants.live import x\n    return x\n")
    assert offenders(tmp_path, "sandwich", "assistants") == ["sandwich/service.py:2: imports assistants.live"]
