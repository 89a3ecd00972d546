"""A deterministic scripted backend: no model, the same answer for the same conversation, always.

For tests, demos and replay dry runs (``assistant: {backend: scripted}``). A constrained call
(`choices=`) scores every choice from a hash of the conversation and the seed, and answers with the
best; its answers carry no skill, which is the point: a pipeline that scores well with it is leaking
the answer. Free text is a fixed sentence.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Generator, Sequence

from assistants.backends.base import Generation, Messages
from sandwich.config import AssistantSpec

REPLY = "This is a scripted reply from the deterministic test backend; no model was run."


class ScriptedBackend:
    """Backend named `scripted`: deterministic hash-scored choices, a fixed free-text reply."""

    name = "scripted"

    def __init__(self, model: str = "scripted") -> None:
        self.model = model

    @classmethod
    def for_spec(cls, spec: AssistantSpec) -> ScriptedBackend:
        """The backend for a study's `assistant:` section."""
        return cls(spec.model)

    def _scores(self, messages: Messages, choices: list[str], seed: int) -> list[float]:
        text = "\n".join(m["content"] for m in messages)
        return [int.from_bytes(hashlib.sha256(f"{seed}|{c}|{text}".encode()).digest()[:4], "big") / 2**32 * 4 - 2
                for c in choices]

    def generate(self, batch: Sequence[Messages], *, max_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, choices: list[str] | None = None, json_schema: dict | None = None) -> list[Generation]:
        """One Generation per conversation; with `choices`, the best-scored choice and every choice's score."""
        out = []
        for messages in batch:
            started = time.monotonic()
            params: dict = {"temperature": temperature}
            if choices:
                scores = self._scores(messages, choices, seed)
                text = choices[max(range(len(choices)), key=scores.__getitem__)]
                params.update({"choices": list(choices), "scores": scores})
            else:
                text = REPLY
            out.append(Generation(text, self.name, self.model, list(messages), params,
                                  latency_s=time.monotonic() - started, seed=seed))
        return out

    def stream(self, messages: Messages, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
               timeout_s: float = 60) -> Generator[str, None, str | None]:
        """The fixed reply, word by word; it always ends of itself ("stop")."""
        for word in REPLY.split(" "):
            yield word + " "
        return "stop"
