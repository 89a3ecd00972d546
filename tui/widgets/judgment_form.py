"""The judgment: an answer, a confidence on the study's scale, an optional one-line rationale."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from sandwich.views import JudgmentFormat
from tui.keys import CONFIDENCE_KEYS
from tui.widgets.choice_row import ChoiceRow


def confidence_labels(levels: list[int]) -> list[str]:
    """`z 50`, `x 60`, … (levels past the sixth have no direct key; + and − reach them)."""
    return [f"{CONFIDENCE_KEYS[n]} {c}" if n < len(CONFIDENCE_KEYS) else str(c) for n, c in enumerate(levels)]


class JudgmentForm(Vertical):
    """Answer chips (keys 1–9), confidence chips (keys z–n, +/−), a rationale line and a submit button (s)."""

    class SubmitPressed(Message):
        """The overseer asked to submit (button or Enter in the rationale line)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="question", markup=False)
        with Horizontal(id="answer-line"):
            yield Label("Answer", classes="form-label")
            yield ChoiceRow(id="answer")
        with Horizontal(id="confidence-line"):
            yield Label("Confidence %", classes="form-label", id="confidence-label")
            yield ChoiceRow(id="confidence")
        with Horizontal(id="why-line"):
            yield Input(placeholder="why? one line, optional (w to type, Enter submits)", id="why", max_length=2000)
            yield Button("Submit  s", id="submit", variant="primary", compact=True)

    def reset(self, fmt: JudgmentFormat, question: str) -> None:
        """Clear the form for a new item with this answer format."""
        self.fmt = fmt
        self.query_one("#question", Static).update(question)
        self.query_one("#question", Static).display = bool(question)
        labels = [f"{n + 1} {c}" if n < 9 else c for n, c in enumerate(fmt.choices)]
        self.answer.set_options(list(fmt.choices), labels)
        self.confidence.set_options(list(fmt.confidence), confidence_labels(list(fmt.confidence)))
        why = self.query_one("#why", Input)
        why.value = ""
        why.display = fmt.rationale != "off"
        self._locked = False
        why.placeholder = (
            "why? one line, required" if fmt.rationale == "required" else "why? one line, optional"
        ) + " (w to type, Enter submits)"

    @property
    def answer(self) -> ChoiceRow:
        return self.query_one("#answer", ChoiceRow)

    @property
    def confidence(self) -> ChoiceRow:
        return self.query_one("#confidence", ChoiceRow)

    @property
    def rationale(self) -> str | None:
        text = self.query_one("#why", Input).value.strip()
        return text or None

    @property
    def locked(self) -> bool:
        return self._locked

    @locked.setter
    def locked(self, value: bool) -> None:
        """While a submission is in flight the form ignores changes.

        A plain flag, not a CSS class or `disabled`: either would restyle the whole form
        twice per item, which is most of the time between one item and the next.
        """
        self._locked = value

    def pick_answer(self, n: int) -> None:
        """Select the n-th answer (0-based)."""
        if not self.locked:
            self.answer.select(n)

    def pick_confidence(self, n: int) -> None:
        """Select the n-th confidence level (0-based, lowest first)."""
        if not self.locked:
            self.confidence.select(n)

    def nudge_confidence(self, step: int) -> None:
        """Move the confidence one step up or down (the first press picks the lowest level)."""
        if self.locked:
            return
        row = self.confidence
        if row.selected is None:
            row.select(0)
        else:
            row.action_move(step)

    def problem(self) -> str | None:
        """What is still missing before this judgment can be submitted, or None."""
        if self.answer.value is None:
            return "Pick an answer first (keys 1–9, or click one)."
        if self.confidence.value is None:
            return "Say how confident you are (keys z x c v b n, + / −, or click a percentage)."
        if self.fmt.rationale == "required" and not self.rationale:
            return "This study asks for a one-line reason: press w and type it."
        return None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.SubmitPressed())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "why":
            event.stop()
            self.post_message(self.SubmitPressed())
