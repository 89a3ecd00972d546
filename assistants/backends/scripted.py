"""A deterministic scripted backend (`backend: scripted`), like Inspect's mock model: no model, no network.

For tests and demos where the model's own behaviour is not the point. Every reply is a pure function of the
conversation and the sampling settings, so a run is reproducible to the byte:

- with `replies` (a list, cycled, or a function of the messages) it answers exactly those;
- otherwise it answers :data:`DEFAULT_REPLY`, a text every built-in strategy can read (numbered
  sub-questions, a Where/What/Why flaw, a quoted sentence), followed by a digest of the conversation so
  different prompts get different replies (and, at a temperature above 0, of the seed, so samples differ);
- with `choices` it picks one by a digest of the conversation and the seed (spread over the choices,
  not always the first), and reports equal scores so no confidence is read into it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Generator, Sequence

from assistants.backends.base import Generation, Messages
from sandwich.config import AssistantSpec

DEFAULT_REPLY = (
    "1. What does the item ask?\n2. Which part decides the answer?\n"
    "1. Where: the second line\n   What: it may not cover every case\n   Why: an edge case is skipped\n"
    "The item says <quote>the answer is stated</quote> plainly."
)


def digest(messages: Messages, *extra: object) -> str:
    """A short stable hex digest of a conversation (and any settings)."""
    return hashlib.sha256(json.dumps([messages, *map(str, extra)], sort_keys=True).encode()).hexdigest()[:8]


class ScriptedBackend:
    """Answers from a script; see the module docstring. `prompts` keeps every conversation it was sent."""

    name = "scripted"

    def __init__(
        self, model: str = "scripted", replies: Sequence[str] | Callable[[Messages], str] | None = None
    ) -> None:
        self.model = model
        self.replies = replies
        self.prompts: list[Messages] = []
        self._n = 0

    @classmethod
    def for_spec(cls, spec: AssistantSpec) -> ScriptedBackend:
        """The backend a study's `assistant: {backend: scripted}` names."""
        return cls(spec.model)

    def _reply(self, messages: Messages, seed: int = 0, temperature: float = 0.0) -> str:
        if callable(self.replies):
            return self.replies(messages)
        if self.replies:
            text = self.replies[self._n % len(self.replies)]
            self._n += 1
            return text
        return f"{DEFAULT_REPLY}\n(scripted {digest(messages, seed if temperature > 0 else 0)})"

    def generate(
        self,
        batch: Sequence[Messages],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        choices: list[str] | None = None,
        json_schema: dict | None = None,
    ) -> list[Generation]:
        """One scripted reply per conversation (a choice from `choices` when given)."""
        out = []
        for messages in batch:
            self.prompts.append(list(messages))
            params: dict[str, object] = {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}
            if choices:
                text = choices[int(digest(messages, seed), 16) % len(choices)]
                params.update(choices=list(choices), scores=[0.0] * len(choices))
            else:
                text = " ".join(self._reply(messages, seed, temperature).split(" ")[: max(1, max_tokens)])
            out.append(
                Generation(
                    text=text,
                    backend=self.name,
                    model=self.model,
                    messages=list(messages),
                    params=params,
                    tokens_in=sum(len(m["content"].split()) for m in messages),
                    tokens_out=len(text.split()),
                    latency_s=0.0,
                    seed=seed,
                )
            )
        return out

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 60,
    ) -> Generator[str, None, str | None]:
        """The scripted reply, word by word; "length" when max_tokens cut it, else "stop"."""
        self.prompts.append(list(messages))
        all_words = self._reply(messages, seed, temperature).split(" ")
        words = all_words[: max(1, max_tokens)]
        for k, w in enumerate(words):
            yield w if k == 0 else " " + w
        return "length" if len(words) < len(all_words) else "stop"
