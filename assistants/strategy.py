"""How a strategy talks to a backend: as a generator of model calls, run many at a time.

A strategy (explanation, decomposition, …) is a generator: it yields a list of
:class:`Call`s, receives their :class:`Generation`s, maybe yields more (a
decomposition answers its sub-questions; a debate runs rounds), and finally
returns a :class:`Result`. :func:`run_strategies` drives many such generators in
lock-step, so the calls of every item in a precompute batch reach the backend
together, even for multi-step strategies.

Strategies take an :class:`ItemContent` (what an overseer sees) and parameters;
consultancy and debate also take the side(s) to argue. They cannot receive gold.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from typing import Any

from assistants.backends.base import Backend, BackendUnreachable, Generation, Messages
from sandwich import assistance
from sandwich.errors import AssistanceUnavailable
from sandwich.views import ItemContent


@dataclass
class Call:
    """One model request a strategy needs, with its own sampling settings.

    `temperature`/`seed` left None take the study's (`assistant:`); `n` > 1 asks for n samples of the same
    conversation (seeds seed, seed+1, …), which come back one after another in the call's place — so a kind
    that needs several different samples (best-of-n) asks for them in one call.
    """

    messages: Messages
    max_tokens: int = 160
    choices: list[str] | None = None
    json_schema: dict | None = None
    temperature: float | None = None
    seed: int | None = None
    n: int = 1

    def key(self) -> tuple[int, str, str, float | None, int | None]:
        """Calls with the same key can share one batched backend call."""
        return (
            self.max_tokens,
            json.dumps(self.choices),
            json.dumps(self.json_schema, sort_keys=True),
            self.temperature,
            self.seed,
        )

    def samples(self, default_seed: int = 0) -> list[Call]:
        """The call as n single-sample calls with seeds seed, seed+1, … (itself when n is 1)."""
        if self.n <= 1:
            return [self]
        base = default_seed if self.seed is None else self.seed
        return [replace(self, n=1, seed=base + k) for k in range(self.n)]


@dataclass
class Result:
    """What a strategy concludes: ok with content, or unparsed with the raw text."""

    status: str  # ok | unparsed | failed
    content: dict[str, Any] | None
    raw: str


@dataclass
class Outcome:
    """A strategy's result with every generation that produced it."""

    status: str
    content: dict[str, Any] | None
    raw: str
    generations: list[Generation] = field(default_factory=list)


Steps = Generator[list[Call], list[Generation], Result]


def unparsed(raw: str) -> Result:
    """The reply could not be read into the content contract; keep the text for the overseer."""
    return Result("unparsed", None, raw)


def steps_for(
    kind: str, item: ItemContent, params: dict[str, Any], *, sides: tuple[str, ...] = (), max_tokens: int = 160
) -> Steps:
    """The generator for one kind of assistance on one item (a sided kind gets its assigned answers)."""
    found = assistance.find(kind)
    if found is None:
        raise ValueError(f"unknown assistance kind {kind!r}")
    return found.steps(item, {"max_tokens": max_tokens, **params}, sides)


def run_strategies(backend: Backend, runs: list[Steps], *, temperature: float = 0.0, seed: int = 0) -> list[Outcome]:
    """Drive every generator to its Result, batching their calls; a backend that cannot be reached raises."""
    outcomes: list[Outcome | None] = [None] * len(runs)
    gens: list[list[Generation]] = [[] for _ in runs]
    waiting: dict[int, list[Call]] = {}

    def advance(i: int, sent: list[Generation] | None) -> None:
        try:
            # why the ignore below: the first send of a fresh generator must be None; later ones are generations
            calls = runs[i].send(sent)  # type: ignore[arg-type]
        except StopIteration as stop:
            r: Result = stop.value
            outcomes[i] = Outcome(r.status, r.content, r.raw, gens[i])
            return
        except Exception as e:  # noqa: BLE001 - a reply we failed to read must not sink the batch
            raw = "\n\n".join(g.text for g in gens[i])
            outcomes[i] = Outcome("unparsed", None, f"{raw}\n\n[could not be read: {type(e).__name__}: {e}]", gens[i])
            return
        waiting[i] = [one for c in calls for one in c.samples(seed)]

    for i in range(len(runs)):
        advance(i, None)
    while waiting:
        groups: dict[tuple, list[tuple[int, int, Call]]] = defaultdict(list)
        for i, calls in waiting.items():
            for j, c in enumerate(calls):
                groups[c.key()].append((i, j, c))
        answers: dict[int, list[Generation | None]] = {i: [None] * len(c) for i, c in waiting.items()}
        errors: dict[int, str] = {}
        for members in groups.values():
            first = members[0][2]
            try:
                out = backend.generate(
                    [c.messages for _, _, c in members],
                    max_tokens=first.max_tokens,
                    temperature=temperature if first.temperature is None else first.temperature,
                    seed=seed if first.seed is None else first.seed,
                    choices=first.choices,
                    json_schema=first.json_schema,
                )
            except BackendUnreachable:
                raise
            except AssistanceUnavailable as e:
                for i, _, _ in members:
                    errors[i] = str(e)
                continue
            for (i, j, _), g in zip(members, out, strict=True):
                answers[i][j] = g
        for i in list(waiting):
            del waiting[i]
            got = [g for g in answers[i] if g is not None]
            gens[i].extend(got)
            if i in errors:
                runs[i].close()
                outcomes[i] = Outcome("failed", None, errors[i], gens[i])
            else:
                advance(i, got)
    return [o for o in outcomes if o is not None]


def run_one(
    backend: Backend,
    kind: str,
    item: ItemContent,
    params: dict[str, Any] | None = None,
    *,
    sides: tuple[str, ...] = (),
    max_tokens: int = 160,
    temperature: float = 0.0,
    seed: int = 0,
) -> Outcome:
    """One kind of assistance for one item (the simple path, for scripts and tests)."""
    steps = steps_for(kind, item, params or {}, sides=sides, max_tokens=max_tokens)
    return run_strategies(backend, [steps], temperature=temperature, seed=seed)[0]
