"""The briefing before each part (condition): what help there is, the time limit, how to answer."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Center
from textual.screen import Screen
from textual.widgets import Button, Header, Static

from sandwich.views import Briefing
from tui import keys
from tui.widgets.help_scroll import HelpScroll
from tui.widgets.key_footer import KeyFooter
from tui.widgets.size_guard import SizeGuard


def briefing_fields(b: Briefing) -> dict[str, str]:
    """What the key table's briefing lines name: this part's answers, confidence levels and their keys."""
    fmt = b.judgment
    if b.choices_per_item:  # one item's options would read as everyone's
        answers = "the options that come with each question"
    else:
        answers = ", ".join(fmt.choice_labels) if len(fmt.choice_labels) <= 4 else "the letters shown"
    return {
        "answers": answers,
        "levels": ", ".join(map(str, fmt.confidence)),
        "rationale": fmt.rationale,
        "confidence_keys": " ".join(keys.CONFIDENCE_KEYS[: len(fmt.confidence)]),
    }


def briefing_text(b: Briefing, part: int, parts: int, overseer: str, items: int | None = None) -> Text:
    """The briefing as shown; the study's own text comes from the service."""
    out = Text()
    out.append(f"Part {part} of {parts}" if parts else "Next part", style="bold")
    out.append(f" · {b.condition}", style="bold")
    out.append(f" · {items} item{'s' if items != 1 else ''}\n\n" if items else "\n\n", style="bold")
    out.append(b.text.strip() + "\n\n")
    out.append("How to answer\n", style="bold underline")
    for line in keys.briefing_lines(b, briefing_fields(b)):  # the keys' lines come from the key table
        out.append(line + "\n")
    if b.practice_items:
        out.append(f"\nFirst, {b.practice_items} practice item(s) with feedback; they do not count.\n", style="italic")
    out.append(f"\nReady, {overseer}? Press Enter to begin.", style="bold")
    return out


class BriefingScreen(Screen[bool]):
    """Read, then Enter (or the button) to start the part."""

    KEY_SCREEN = "briefing"
    BINDINGS = keys.bindings(KEY_SCREEN)

    def __init__(self, briefing: Briefing, part: int, parts: int, overseer: str, items: int | None = None) -> None:
        super().__init__()
        self.briefing = briefing
        self.part, self.parts, self.overseer, self.items = part, parts, overseer, items

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with HelpScroll(id="briefing-body"):
            yield Static(
                briefing_text(self.briefing, self.part, self.parts, self.overseer, self.items), id="briefing-text"
            )
            with Center():
                yield Button("Begin  ⏎", id="begin", variant="primary")
        yield KeyFooter(compact=True)
        yield SizeGuard()

    def on_mount(self) -> None:
        self.sub_title = f"{self.overseer} · briefing: {self.briefing.condition}"
        self.query_one("#briefing-body").border_title = "Before you start this part"

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(True)

    def action_begin(self) -> None:
        self.dismiss(True)
