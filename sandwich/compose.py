"""The composition root's defaults: which implementation fills each seam the core leaves open.

`sandwich` (the core) does not import `assistants` (the model side); it is handed what it needs:
the follow-up model (`StudyService(follow_up_model=...)`) and the backend factory (`simulate_study(
backend_factory=...)`). The CLI passes them explicitly; a script or test that passes nothing gets the
defaults named here, imported by name on first use, so the import graph has no cycle
(`tests/test_layering.py` checks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Generator
from typing import Any, Protocol

FOLLOW_UP_MODEL = "assistants.live:stream_follow_up"
BACKEND_FACTORY = "assistants.backends:get_backend"


class FollowUpModel(Protocol):
    """Streams the model's answer to an overseer's own question (see `assistants.live.stream_follow_up`)."""

    def __call__(
        self, spec: Any, *, item: Any, assistance: list[Any], question: str, node_id: str | None = None
    ) -> Generator[str, None, str | None]: ...


def resolve(name: str) -> Callable[..., Any]:
    """The object a 'module:attribute' name refers to."""
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def follow_up_model() -> FollowUpModel:
    """The default follow-up model."""
    return resolve(FOLLOW_UP_MODEL)


def backend_factory() -> Callable[[Any], Any]:
    """The default backend factory (spec → backend)."""
    return resolve(BACKEND_FACTORY)
