"""The five built-in kinds of help, each declared once: parameters, content contract, sides, briefing, words.

Strategies (the model calls) are in `assistants/` and named here as 'module:function'; the words for the app
and the LLM judge are in `sandwich.help_text`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from sandwich import help_text
from sandwich.assistance.registry import AssistanceKind, register

Positive = Annotated[int, Field(ge=1, strict=True)]


class Params(BaseModel):
    """Base of a kind's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Content(BaseModel):
    """Base of a kind's content: extra keys are kept (imported studies may carry more)."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------ explanation
class ExplanationParams(Params):
    max_tokens: Positive | None = None


class ExplanationContent(Content):
    text: str


# ---------------------------------------------------------------- decomposition
class DecompositionParams(Params):
    max_subquestions: Positive | None = None
    max_tokens: Positive | None = None


class Node(Content):
    id: Annotated[str, BeforeValidator(str)] = ""
    question: str
    answer: str = ""
    children: list[Node] = []


class DecompositionContent(Content):
    nodes: list[Node]

    def find(self, node_id: str) -> Node | None:
        """The node with this id, at any depth."""
        todo = list(self.nodes)
        while todo:
            n = todo.pop(0)
            if n.id == node_id:
                return n
            todo += n.children
        return None


# --------------------------------------------------------------------- critique
class CritiqueParams(Params):
    max_flaws: Positive | None = None
    max_tokens: Positive | None = None


class Flaw(Content):
    where: str = ""
    what: str
    why: str = ""


class CritiqueContent(Content):
    flaws: list[Flaw]


# ------------------------------------------------------- consultancy and debate
class Quote(Content):
    text: str
    verified: bool = False


class Turn(Content):
    speaker: str
    text: str
    round: int | None = None
    quotes: list[Quote] = []


class ConsultancyParams(Params):
    rounds: Positive | None = None
    word_limit: Positive | None = None
    seed: Positive | None = None


class ConsultancyContent(Content):
    assigned_answer: str
    turns: list[Turn]


class DebateParams(Params):
    rounds: Positive | None = None
    word_limit: Positive | None = None


class DebateContent(Content):
    answers: dict[str, str]
    turns: list[Turn]


def _dump(c: BaseModel) -> dict[str, Any]:
    return c.model_dump(mode="json", exclude_unset=True)


register(
    AssistanceKind(
        name="explanation",
        title="Explanation",
        params=ExplanationParams,
        content=ExplanationContent,
        briefing="an explanation of the item in plain language",
        render=lambda c: help_text.explanation(_dump(c)),
        summary=lambda c: f"Explanation: {c.text}",
        strategy="assistants.explain:explanation",
    )
)

register(
    AssistanceKind(
        name="decomposition",
        title="Sub-questions",
        params=DecompositionParams,
        content=DecompositionContent,
        briefing="the question split into smaller sub-questions, each answered by the model; you can ask follow-ups",
        render=lambda c: help_text.decomposition(_dump(c)),
        pane="tree",
        summary=lambda c: "Sub-questions:\n" + "\n".join(f"{n.id}. {n.question} — {n.answer}" for n in c.nodes),
        strategy="assistants.decompose:decomposition",
    )
)

register(
    AssistanceKind(
        name="critique",
        title="Critique",
        params=CritiqueParams,
        content=CritiqueContent,
        briefing="a list of possible flaws the model found, each with where and why",
        render=lambda c: help_text.critique(_dump(c)),
        summary=lambda c: "Possible flaws:\n" + "\n".join(f"- {f.what} ({f.where}) {f.why}" for f in c.flaws),
        strategy="assistants.critique:critique",
    )
)

register(
    AssistanceKind(
        name="consultancy",
        title="Consultant",
        params=ConsultancyParams,
        content=ConsultancyContent,
        sides=1,
        briefing="a consultant arguing for one answer — it may be arguing for the wrong one",
        render=lambda c: help_text.consultancy(_dump(c)),
        summary=lambda c: f'A consultant argued for "{c.assigned_answer}": ' + " ".join(t.text for t in c.turns),
        strategy="assistants.consult:consultancy",
    )
)

register(
    AssistanceKind(
        name="debate",
        title="Debate",
        params=DebateParams,
        content=DebateContent,
        sides=2,
        briefing="two model debaters arguing for opposite answers over several rounds",
        render=lambda c: help_text.debate(_dump(c)),
        summary=lambda c: (
            "A debate:\n" + "\n".join(f'{t.speaker} (for "{c.answers.get(t.speaker)}"): {t.text}' for t in c.turns)
        ),
        strategy="assistants.debate:debate",
    )
)
