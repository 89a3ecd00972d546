"""The assistance-kind registry: each kind of the model's help declared once, read by every part that needs it.

An :class:`AssistanceKind` says everything the platform needs to know about one kind of help:

- ``params``: a pydantic model of its study-file parameters (unknown keys are errors);
- ``content``: a pydantic model of what its strategy produces and the store keeps (the content contract);
- ``sides``: how many assigned answers it argues (0 none, 1 a consultant, 2 debaters) — precompute balances
  them against gold, the one place outside analysis that reads it;
- ``briefing``: the line the overseer's briefing gives it; ``title``: its tab title;
- ``render``: its words for the app's pane and the LLM judge (`sandwich.help_text.Segments`);
- ``summary``: its words when a live follow-up reminds the model of the help already shown;
- ``strategy``: the generator of model calls (`assistants.strategy.Steps`), as an object or as
  ``"module:function"`` — the built-in strategies live in `assistants/`, which `sandwich` does not import.

Config validation, precompute, live follow-ups, the LLM judge, the TUI panel and export all read this registry,
so a new kind is one :func:`register` call (see docs/architecture.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

Segments = list[tuple[str, str]]


@dataclass(frozen=True)
class AssistanceKind:
    """One kind of help. See the module docstring for the fields."""

    name: str
    title: str
    briefing: str
    params: type[BaseModel]
    content: type[BaseModel]
    render: Callable[[Any], Segments]
    strategy: Callable[..., Any] | str
    summary: Callable[[Any], str] | None = None
    sides: Literal[0, 1, 2] = 0
    pane: Literal["text", "tree"] = "text"  # how the app lays it out: scrolling text, or a tree of nodes

    def parse(self, content: dict[str, Any] | None) -> BaseModel | None:
        """The stored content as its typed model (None when it does not fit the contract)."""
        if content is None:
            return None
        try:
            return self.content.model_validate(content)
        except ValidationError:
            return None

    def segments(self, content: dict[str, Any]) -> Segments:
        """The help in the app's and the LLM judge's words; content that breaks the contract is shown as text."""
        typed = self.parse(content)
        if typed is None:
            return [
                ("This help does not have the expected form; its content follows as stored.", "bold yellow"),
                (f"\n\n{content}", ""),
            ]
        return self.render(typed)

    def summarize(self, content: dict[str, Any]) -> str:
        """The help as a follow-up's reminder ('' when the kind gives none or the content is malformed)."""
        typed = self.parse(content)
        if typed is None:
            return ""
        return self.summary(typed) if self.summary else "".join(t for t, _ in self.render(typed))

    def export(self, content: dict[str, Any] | None) -> dict[str, Any] | None:
        """The content as exported: normalised through the typed model (as stored when it does not fit)."""
        typed = self.parse(content)
        return typed.model_dump(mode="json") if typed is not None else content

    def strategy_fn(self) -> Callable[..., Any]:
        """The strategy generator function (imported on first use when declared as 'module:function')."""
        if callable(self.strategy):
            return self.strategy
        module, _, attr = self.strategy.partition(":")
        return getattr(importlib.import_module(module), attr)

    def steps(self, item: Any, params: dict[str, Any], sides: tuple[str, ...] = ()) -> Any:
        """The strategy's generator for one item: sided kinds get their assigned answer(s)."""
        if len(sides) < self.sides:
            raise ValueError(f"{self.name} argues {self.sides} assigned answer(s); got {len(sides)}")
        fn = self.strategy_fn()
        if self.sides:
            return fn(item, params, sides=tuple(sides[: self.sides]))
        return fn(item, params)


_KINDS: dict[str, AssistanceKind] = {}
_loaded = False


def _builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("sandwich.assistance.builtin")


def register(kind: AssistanceKind, *, replace: bool = False) -> AssistanceKind:
    """Add a kind (a second kind of the same name is an error unless `replace`)."""
    _builtin()
    if kind.name in _KINDS and not replace:
        raise ValueError(f"assistance kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that declare a toy kind clean up with this)."""
    _KINDS.pop(name, None)


def get(name: str) -> AssistanceKind:
    """The kind called `name`; KeyError names the registered kinds."""
    _builtin()
    if name not in _KINDS:
        raise KeyError(f"unknown assistance kind {name!r} (registered: {', '.join(_KINDS)})")
    return _KINDS[name]


def find(name: str) -> AssistanceKind | None:
    """The kind called `name`, or None."""
    _builtin()
    return _KINDS.get(name)


def names() -> list[str]:
    """Every registered kind's name, in registration order (precompute's order too)."""
    _builtin()
    return list(_KINDS)


def kinds() -> list[AssistanceKind]:
    """Every registered kind, in registration order."""
    _builtin()
    return list(_KINDS.values())


def check_params(name: str, params: dict[str, Any]) -> BaseModel:
    """A condition's parameters for kind `name`, typed; ValueError says which key is wrong and what it needs."""
    kind = get(name) if name in names() else None
    if kind is None:
        raise ValueError(f"unknown assistance {name!r} (expected one of: {', '.join(names())})")
    allowed = kind.params.model_fields
    for key in params:
        if key not in allowed:
            raise ValueError(f"unknown parameter {key!r} for {name} (expected one of: {', '.join(allowed)})")
    try:
        return kind.params.model_validate(params)
    except ValidationError as e:
        err = e.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "?"
        if allowed.get(key) is not None and allowed[key].metadata and allowed[key].annotation in (int, int | None):
            raise ValueError(f"{name}.{key} must be a positive integer, got {params.get(key)!r}") from None
        raise ValueError(f"{name}.{key}: {err['msg']}, got {params.get(key)!r}") from None
