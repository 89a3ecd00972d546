"""Live follow-up questions: the answer streams in from an exclusive worker; input is locked meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from sandwich.errors import SandwichError
from sandwich.views import CutOff

ASK_ITEM = "Ask the model about this item (f), Enter to send · m: full screen"


FollowUpStream = Callable[[str, str, str | None], Iterator[str]]


class FollowUpBox(Vertical):
    """Ask the model about the item (or a selected sub-question); its answer streams below.

    `follow_up` (assignment_id, question, node_id) → answer pieces is injected by the screen (the session's).
    """

    follow_up: FollowUpStream | None = None

    class Used(Message):
        """A follow-up was asked (counts as using the assistance)."""

        def __init__(self, question: str, node_id: str | None) -> None:
            super().__init__()
            self.question = question
            self.node_id = node_id

    class Failed(Message):
        """The model could not answer (backend down, slow, or refused)."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    def compose(self) -> ComposeResult:
        yield Input(placeholder=ASK_ITEM, id="followup-q", max_length=2000)
        with VerticalScroll(id="followup-log"):
            yield Static("", id="followup-text")

    def reset(self, assignment_id: str) -> None:
        """A new item: forget the previous conversation and stop any answer still streaming."""
        self.workers.cancel_group(self, "followup")
        self.assignment_id = assignment_id
        self.node_id: str | None = None
        self.transcript = Text()
        self.streaming = False
        self.query_one("#followup-text", Static).update("")
        self.query_one("#followup-log").display = False
        self.styles.height = "auto"  # just the question line until there is a conversation
        q = self.query_one("#followup-q", Input)
        q.value = ""
        if q.disabled:  # toggling `disabled` restyles; do it only when it changes
            q.disabled = False
        self._placeholder(None)

    def target(self, node: dict | None) -> None:
        """Aim the next question at a sub-question (or at the whole item when None)."""
        self.node_id = None if node is None else str(node.get("id"))
        self._placeholder(self.node_id)
        self.screen.set_focus(self.query_one("#followup-q", Input))  # at once: the next keys typed go to the box

    def _placeholder(self, node_id: str | None) -> None:
        self.query_one("#followup-q", Input).placeholder = (
            f"Ask about sub-question {node_id}, Enter to send (Esc: back)" if node_id else ASK_ITEM
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "followup-q":
            return
        event.stop()
        question = event.value.strip()
        if not question or self.streaming:
            return
        event.input.value = ""
        event.input.disabled = True  # locked while the model answers
        self.streaming = self.waiting = True
        about = f" (about sub-question {self.node_id})" if self.node_id else ""
        if self.transcript:  # a blank line between exchanges, never after the last (the log shows its end)
            self.transcript.append("\n\n")
        self.transcript.append(f"You{about}: ", style="bold")
        self.transcript.append(question + "\n")
        self.transcript.append("Model: ", style="bold green")
        self._render_log()
        self.screen.set_focus(self.query_one("#followup-log"))  # ↑ ↓ PgUp PgDn End now scroll the answers
        self.post_message(self.Used(question, self.node_id))
        self.stream_answer(self.assignment_id, question, self.node_id)

    @work(exclusive=True, thread=True, group="followup")
    def stream_answer(self, assignment_id: str, question: str, node_id: str | None) -> None:
        """Pull the answer from the session in a thread; each piece is painted on the UI thread."""
        worker = get_current_worker()
        answer: Iterator[str] | None = None
        try:
            if self.follow_up is None:
                raise SandwichError("No model is connected to answer follow-up questions.")
            answer = self.follow_up(assignment_id, question, node_id)
            for piece in answer:
                if worker.is_cancelled:
                    return
                self.app.call_from_thread(self._piece, assignment_id, piece)
        except Exception as e:  # any failure: say so, keep the item judgeable
            if not worker.is_cancelled:
                self.app.call_from_thread(self._failed, assignment_id, e)
            return
        finally:
            close = getattr(answer, "close", None)
            if close is not None:  # an abandoned answer (next item, quit) tells the backend to stop
                close()
        if not worker.is_cancelled:
            self.app.call_from_thread(self._done, assignment_id)

    def _piece(self, assignment_id: str, piece: str) -> None:
        if assignment_id == self.assignment_id:
            self.waiting = False
            self.transcript.append(piece, style="bold yellow" if isinstance(piece, CutOff) else "")
            self._render_log()

    def _done(self, assignment_id: str) -> None:
        if assignment_id == self.assignment_id:
            self.transcript.rstrip()
            self._unlock()

    def _failed(self, assignment_id: str, error: Exception) -> None:
        if assignment_id != self.assignment_id:
            return
        reason = getattr(error, "message", None) or str(error) or type(error).__name__
        self.transcript.append(
            "\nThe model is not available right now, so it cannot answer. You can still judge the item.\n",
            style="bold red",
        )
        self.transcript.append(f"({reason.splitlines()[0][:200]})", style="dim")
        self._render_log()
        self._unlock()
        self.post_message(self.Failed(reason))

    def _unlock(self) -> None:
        self.streaming = self.waiting = False
        q = self.query_one("#followup-q", Input)
        q.disabled = False
        self._render_log()

    def _render_log(self) -> None:
        log = self.query_one("#followup-log", VerticalScroll)
        log.display = True
        self.styles.height = "2fr"  # a conversation takes most of the panel instead of one clipped row
        shown = self.transcript
        if self.streaming and getattr(self, "waiting", False):
            shown = shown.copy()
            shown.append("thinking… (you can keep working)", style="dim italic")
        self.query_one("#followup-text", Static).update(shown)
        self.call_after_refresh(log.scroll_end, animate=False)  # once laid out: the newest line in view
