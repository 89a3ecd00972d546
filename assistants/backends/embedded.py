"""The embedded backend: transformers in this process, on the prepared SmolLM2 directory.

The default when no server is configured, so a laptop runs a whole study with no
setup. Generation is batched with left padding (several times faster than one
prompt at a time on a CPU), greedy unless a temperature is given. A `choices`
constraint is met by scoring each choice's log-likelihood after the prompt, so
structured choice works without a server. The model loads once per process.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Generator, Sequence
from functools import lru_cache
from typing import Any

from assistants.backends.base import Generation, Messages
from sandwich.config import AssistantSpec
from sandwich.errors import AssistanceUnavailable

# Two threads: the machines this runs on are small and shared; more threads mostly add contention.
TORCH_THREADS = int(os.environ.get("SANDWICH_TORCH_THREADS", "2"))


@lru_cache(maxsize=2)
def _load(model_dir: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a per-weight progress bar is noise inside a CLI or a TUI
    torch.set_num_threads(TORCH_THREADS)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"  # generation continues from the right edge of every row
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    # fp32 on CPU: bf16 matmuls are slower than fp32 on most CPUs without AMX
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    return tok, model


class EmbeddedBackend:
    """A transformers causal LM in-process; thread-safe (one generation at a time)."""

    name = "embedded"

    batch_size = 16  # rows per padded forward pass; larger batches gain little on a small CPU

    def __init__(self, model: str = "smollm2-135m-instruct", *, top_p: float = 1.0) -> None:
        from sandwich.models import resolve_model

        self.model = model
        self.top_p = top_p
        self._dir = str(resolve_model(model))
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: AssistantSpec) -> EmbeddedBackend:
        """The backend a study's assistant section describes."""
        return cls(spec.model, top_p=spec.top_p)

    def _parts(self) -> tuple[Any, Any]:
        try:
            return _load(self._dir)
        except OSError as e:
            raise AssistanceUnavailable(
                f"Cannot load the embedded model from {self._dir}: {e}",
                hint="Run `sandwich models prepare` to (re)build it.",
            ) from None

    def _encode(self, batch: Sequence[Messages]) -> tuple[Any, list[str]]:
        tok, _ = self._parts()
        texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in batch]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return enc, texts

    def _sampling(self, max_tokens: int, temperature: float) -> dict[str, Any]:
        if temperature <= 0:
            return {"max_new_tokens": max_tokens, "do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {
            "max_new_tokens": max_tokens,
            "do_sample": True,
            "temperature": temperature,
            "top_p": self.top_p,
            "top_k": None,
        }

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
        """Answer every conversation in one padded batch (or pick among `choices` by likelihood)."""
        if not batch:
            return []
        if choices:
            return self._choose(batch, choices, seed)
        if json_schema is not None:
            batch = [_with_schema(m, json_schema) for m in batch]
        if len(batch) > self.batch_size:
            # similar lengths share a chunk, so little compute goes to padding
            tok, _ = self._parts()
            order = sorted(range(len(batch)), key=lambda i: sum(len(m["content"]) for m in batch[i]))
            done: dict[int, Generation] = {}
            for k in range(0, len(order), self.batch_size):
                part = order[k : k + self.batch_size]
                for i, g in zip(
                    part,
                    self._generate([batch[i] for i in part], max_tokens, temperature, seed, json_schema),
                    strict=True,
                ):
                    done[i] = g
            return [done[i] for i in range(len(batch))]
        return self._generate(batch, max_tokens, temperature, seed, json_schema)

    def _generate(
        self, batch: Sequence[Messages], max_tokens: int, temperature: float, seed: int, json_schema: dict | None
    ) -> list[Generation]:
        import torch

        tok, model = self._parts()
        params = {"max_tokens": max_tokens, "temperature": temperature, "top_p": self.top_p}
        with self._lock:
            enc, _ = self._encode(batch)
            torch.manual_seed(seed)
            start = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(**enc, **self._sampling(max_tokens, temperature), pad_token_id=tok.pad_token_id)
            elapsed = time.perf_counter() - start
        width = enc["input_ids"].shape[1]
        gens = []
        for row, messages in enumerate(batch):
            new = out[row, width:].tolist()
            finish = "stop" if tok.eos_token_id in new else ("length" if len(new) >= max_tokens else "stop")
            if tok.eos_token_id in new:
                new = new[: new.index(tok.eos_token_id)]
            new = [t for t in new if t != tok.pad_token_id]
            text = tok.decode(new, skip_special_tokens=True).strip()
            if json_schema is not None:
                text = _json_part(text)
            gens.append(
                Generation(
                    text=text,
                    backend=self.name,
                    model=self.model,
                    messages=list(messages),
                    params={**params, **({"json_schema": json_schema} if json_schema else {})},
                    tokens_in=int(enc["attention_mask"][row].sum()),
                    tokens_out=len(new),
                    latency_s=elapsed,
                    seed=seed,
                    finish_reason=finish,
                )
            )
        return gens

    def _choose(self, batch: Sequence[Messages], choices: list[str], seed: int) -> list[Generation]:
        """Pick, for each conversation, the choice with the highest total log-likelihood.

        The prompt is encoded once per conversation and its key/value cache reused for every choice: a
        judge's prompt holds a whole article and transcript (QuALITY: 4k-10k tokens), so encoding it once
        per choice, padded to the longest prompt of a batch, cost more than twice the one pass needed.
        A choice's first token is scored from the prompt's last position; its further tokens (a choice
        spelled as words) in one pass over a copy of the cache. `latency_s` is each conversation's own time.
        """
        tok, _ = self._parts()
        c_ids = [tok(c, add_special_tokens=False)["input_ids"] for c in choices]
        gens = []
        with self._lock:
            for messages in batch:
                start = time.perf_counter()
                text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
                p_ids = tok(text, add_special_tokens=False)["input_ids"]
                scores = self._score_choices(p_ids, c_ids)
                best = max(range(len(choices)), key=scores.__getitem__)
                gens.append(
                    Generation(
                        text=choices[best],
                        backend=self.name,
                        model=self.model,
                        messages=list(messages),
                        params={"choices": choices, "method": "loglikelihood", "scores": [round(s, 4) for s in scores]},
                        tokens_in=len(p_ids),
                        tokens_out=len(c_ids[best]),
                        latency_s=time.perf_counter() - start,
                        seed=seed,
                    )
                )
        return gens

    def _score_choices(self, p_ids: list[int], c_ids: list[list[int]]) -> list[float]:
        """log P(choice | prompt) for each tokenised choice, with one forward pass over the prompt."""
        import copy

        import torch

        _, model = self._parts()
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([p_ids]), use_cache=True, logits_to_keep=1)
            first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            scores = []
            for c in c_ids:
                score = float(first[c[0]])
                if len(c) > 1:  # the rest of the choice, each token predicted from the one before
                    more = model(
                        input_ids=torch.tensor([c[:-1]]),
                        past_key_values=copy.deepcopy(out.past_key_values),
                        use_cache=True,
                    )
                    logp = torch.log_softmax(more.logits[0].float(), dim=-1)
                    score += sum(float(logp[k, c[k + 1]]) for k in range(len(c) - 1))
                scores.append(score)
        return scores

    def stream(
        self,
        messages: Messages,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 60,
    ) -> Generator[str, None, str | None]:
        """Yield text pieces as the model generates them (a worker thread runs generate); return the finish reason.

        "length" when generation stopped at `max_tokens` without an end-of-sequence token, else "stop".
        """
        import queue

        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tok, model = self._parts()
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=timeout_s)
        failure: list[BaseException] = []
        abandoned = threading.Event()
        seen: list[int] = [0, -1]  # tokens generated so far, the last token (for the finish reason)

        class _Abandoned(StoppingCriteria):
            """Stops generation once the consumer has gone (the overseer moved on or quit)."""

            def __call__(self, input_ids, scores, **kwargs):
                seen[0] += 1
                seen[1] = int(input_ids[0, -1])
                return abandoned.is_set()

        def work() -> None:
            with self._lock:
                try:
                    enc, _ = self._encode([messages])
                    torch.manual_seed(seed)
                    with torch.inference_mode():
                        model.generate(
                            **enc,
                            **self._sampling(max_tokens, temperature),
                            streamer=streamer,
                            pad_token_id=tok.pad_token_id,
                            stopping_criteria=StoppingCriteriaList([_Abandoned()]),
                        )
                except BaseException as e:  # noqa: BLE001 - reported to the consumer below
                    failure.append(e)
                    streamer.end()

        worker = threading.Thread(target=work, name="embedded-stream", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        except queue.Empty:
            raise AssistanceUnavailable(
                f"The embedded model produced nothing for {timeout_s:.0f} s.",
                hint="The machine may be busy; try again, or raise assistant.timeout_s.",
            ) from None
        finally:
            abandoned.set()  # also on GeneratorExit: the worker stops at its next token
        if failure:
            raise AssistanceUnavailable(f"The embedded model failed: {failure[0]}") from None
        return "length" if seen[0] >= max_tokens and seen[1] != tok.eos_token_id else "stop"


def _with_schema(messages: Messages, schema: dict) -> Messages:
    """Ask for JSON in words: a small in-process model has no grammar-constrained decoding here."""
    note = "Reply with only a JSON object that matches this JSON schema:\n" + json.dumps(schema)
    return [*messages[:-1], {**messages[-1], "content": messages[-1]["content"] + "\n\n" + note}]


def _json_part(text: str) -> str:
    """The first {...} block that parses as JSON, else the text unchanged (the caller decides)."""
    for m in re.finditer(r"\{", text):
        depth = 0
        for j in range(m.start(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                try:
                    json.loads(text[m.start() : j + 1])
                    return text[m.start() : j + 1]
                except json.JSONDecodeError:
                    break
    return text
