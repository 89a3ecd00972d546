"""The embedded backend's constrained choice: the right likelihoods, with the prompt encoded once.

A tiny randomly initialised Llama (the SmolLM2 architecture, two layers) with the prepared SmolLM2
tokenizer stands in for the weights, so the test runs in seconds; what is checked is the scoring, not
the model's judgement.
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assistants.backends.embedded import EmbeddedBackend  # noqa: E402
from sandwich.models import resolve_model  # noqa: E402


class TinyBackend(EmbeddedBackend):
    """The embedded backend on a tiny random model; counts the tokens every forward pass reads."""

    def __init__(self) -> None:
        try:
            super().__init__("smollm2-135m-instruct")
            tok = transformers.AutoTokenizer.from_pretrained(resolve_model("smollm2-135m-instruct"))
        except Exception as e:  # noqa: BLE001 - the tokenizer comes from `sandwich models prepare`
            pytest.skip(f"the prepared SmolLM2 tokenizer is not available: {e}")
        tok.padding_side = "left"
        tok.pad_token = tok.pad_token or tok.eos_token
        torch.manual_seed(0)
        cfg = transformers.LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
        )
        self.tiny = transformers.LlamaForCausalLM(cfg).eval()
        self.tok = tok
        self.tokens_read: list[int] = []
        self.tiny.register_forward_pre_hook(
            lambda _m, _a, kw: self.tokens_read.append(kw["input_ids"].numel()), with_kwargs=True
        )

    def _parts(self) -> tuple[Any, Any]:
        return self.tok, self.tiny


def reference(backend: TinyBackend, messages: list[dict[str, str]], choice: str) -> float:
    """log P(choice | prompt) from one plain forward pass over prompt + choice, no cache, no batching."""
    tok = backend.tok
    p = tok(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True), add_special_tokens=False)[
        "input_ids"
    ]
    c = tok(choice, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(backend.tiny(input_ids=torch.tensor([p + c])).logits[0].float(), dim=-1)
    return sum(float(logp[len(p) + k - 1, t]) for k, t in enumerate(c))


def conversation(words: int) -> list[dict[str, str]]:
    passage = " ".join(f"word{k}" for k in range(words))
    return [
        {"role": "system", "content": "You are a judge."},
        {"role": "user", "content": f"{passage}\n\nWhich answer is right? A or B?"},
    ]


@pytest.mark.parametrize("choices", [["A", "B"], ["the butler did it", "nobody did it at all"]])
def test_choice_scores_are_the_plain_log_likelihoods(choices: list[str]) -> None:
    backend = TinyBackend()
    convs = [conversation(40), conversation(300)]  # different lengths: no padding may leak into a score
    gens = backend.generate(convs, max_tokens=4, choices=choices)
    for conv, g in zip(convs, gens, strict=True):
        want = [reference(backend, conv, c) for c in choices]
        assert g.params["scores"] == pytest.approx(want, abs=2e-3)
        assert g.text == choices[max(range(len(choices)), key=want.__getitem__)]


def test_the_prompt_is_read_once_per_conversation_not_once_per_choice() -> None:
    backend = TinyBackend()
    convs = [conversation(300), conversation(500)]
    choices = ["A", "B", "C", "D"]
    gens = backend.generate(convs, max_tokens=4, choices=choices)
    # single-token choices: one pass over each prompt and nothing else
    assert backend.tokens_read == [g.tokens_in for g in gens]
    backend.tokens_read.clear()
    words = ["the butler did it", "nobody did it"]
    gens = backend.generate(convs[:1], max_tokens=4, choices=words)
    rest = [len(backend.tok(w, add_special_tokens=False)["input_ids"]) - 1 for w in words]
    assert backend.tokens_read == [gens[0].tokens_in, *rest]
