"""The key table: every key the overseer can press, written once.

Each row is one key as the overseer learns it: what it does (the `?` help's table), the Textual
bindings it makes on each screen (their `BINDINGS`, and so the footer), its line in the briefing and
its command in the command palette. A key added here appears on every surface that lists it; a key
bound anywhere else is caught by `tests/test_tui_keys.py`.

Screens (where a binding applies): `app` (everywhere), `item`, `briefing`, `help`, `notice`, `done`,
and `choices` (a row of answer or confidence chips).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from textual.binding import Binding, BindingType

from sandwich.views import Briefing

CONFIDENCE_KEYS = "zxcvbn"  # the bottom row, left to right: lowest to highest confidence
SCREENS = ("app", "item", "briefing", "help", "notice", "done", "choices")


@dataclass(frozen=True)
class Bind:
    """One binding a key makes on one screen.

    `keys` are Textual key names, comma-separated; with `each`, every key is bound on its own and
    `{n}` in `action` is its index (1–9 pick answers 0–8). `builtin`: Textual binds it itself (the
    command palette's Ctrl+P); the row documents it and the footer shows it, but no binding is made.
    """

    screen: str
    keys: str
    action: str
    label: str = ""
    show: bool = True
    display: str | None = None
    priority: bool = False
    each: bool = False
    builtin: bool = False

    def __post_init__(self) -> None:
        if self.screen not in SCREENS:
            raise ValueError(f"key table: unknown screen {self.screen!r} (screens: {', '.join(SCREENS)})")

    def bindings(self, key: str) -> list[Binding]:
        """The Textual bindings (one per key with `each`; the footer shows only the first)."""
        display = self.display or key
        if not self.each:
            return [
                Binding(self.keys, self.action, self.label, show=self.show, key_display=display, priority=self.priority)
            ]
        return [
            Binding(
                k,
                self.action.format(n=n),
                self.label,
                show=self.show and n == 0,
                key_display=display,
                priority=self.priority,
            )
            for n, k in enumerate(self.keys.split(","))
        ]


@dataclass(frozen=True)
class Brief:
    """A key's line in the briefing: `  • {text} — {keys}`, when `when(briefing)` holds.

    `text` and `keys` may name the briefing's fields: `{answers}`, `{levels}`, `{rationale}`,
    `{confidence_keys}` (see `tui.screens.briefing.briefing_fields`).
    """

    text: str
    keys: str = ""  # default: "key <the row's key>"
    when: Callable[[Briefing], bool] = lambda b: True


@dataclass(frozen=True)
class Key:
    """One key as the overseer reads it: `key` as written in the help, `does` its help line."""

    key: str
    does: str
    binds: tuple[Bind, ...] = ()  # none: Textual's own key (Tab, arrows, Ctrl+Q), documented here
    brief: Brief | None = None
    command: tuple[str, str] | None = None  # (title, help) in the command palette

    def on(self, screen: str) -> list[Bind]:
        """This key's binds that apply on `screen` (app-wide ones included)."""
        return [b for b in self.binds if b.screen in (screen, "app")]


def _has_help(b: Briefing) -> bool:
    return bool(b.assistance)


KEYS: tuple[Key, ...] = (
    Key(
        "1–9",
        "pick answer 1–9 (mouse: click it); the picked one shows as `[2 B]`",
        (Bind("item", ",".join("123456789"), "answer({n})", "answer", display="1-9", each=True),),
        Brief("answers: {answers}", "keys 1–9 or click"),
    ),
    Key(
        "z–n",
        "pick a confidence with z x c v b n, lowest to highest (the keys are on the chips)",
        (Bind("item", ",".join(CONFIDENCE_KEYS), "confidence_level({n})", "sure", display="z-n", each=True),),
        Brief("confidence that your answer is right: {levels} %", "keys {confidence_keys} (lowest first)"),
    ),
    Key("1 / 2 (pairs)", "pick response A (left/top) or B (right/bottom); confidence: how likely it is the better one"),
    Key(
        "o (pairs)",
        "the two responses side by side, or one above the other",
        (Bind("item", "o", "stack_panes", "layout", display="o"),),
    ),
    Key(
        "+ / -",
        "one step more / less confident",
        (
            Bind("item", "plus,equals_sign", "confidence(1)", "sure", show=False, display="+/-"),
            Bind("item", "minus", "confidence(-1)", "less sure", show=False),
        ),
        Brief("one step more or less confident", "keys + and −"),
    ),
    Key(
        "← →",
        "change the answer or the confidence in the row you are on",
        (
            Bind("choices", "left", "move(-1)", "previous", show=False),
            Bind("choices", "right", "move(1)", "next", show=False),
        ),
    ),
    Key(
        "w",
        "type a one-line reason (Enter submits)",
        (Bind("item", "w", "why", "why", show=False),),  # the reason line says "w to type"
        Brief("a one-line reason ({rationale})", when=lambda b: b.judgment.rationale != "off"),
    ),
    Key(
        "s",
        "submit the judgment",
        (Bind("item", "s", "submit", "submit"),),
        Brief("submit"),
        ("Submit judgment", "Store this judgment and go on"),
    ),
    Key(
        "a",
        "open / close the model's help",
        (Bind("item", "a", "toggle_help", "model"),),
        Brief("open the model's help", when=_has_help),
        ("Model's help", "Open or close the model's help"),
    ),
    Key(
        "f",
        "ask the model a question (on a selected sub-question: about that one)",
        (Bind("item", "f", "follow_up", "ask"),),
        Brief("ask it a question", when=lambda b: _has_help(b) and b.live_followups),
        ("Ask the model", "Ask a follow-up question"),
    ),
    Key(
        "m",
        "full screen for the pane you are in (item or help); `m` or `Esc` restores",
        (Bind("item", "m", "maximise", "max"),),
    ),
    Key("Tab / Shift+Tab", "move between parts of the screen (item, help, answers, form)"),
    Key("↑ ↓ PgUp PgDn Home End", "scroll the part you are in; move in the sub-question tree"),
    Key(
        "Enter",
        "expand a sub-question; begin a part; continue",
        (
            Bind("briefing", "enter", "begin", "begin", display="⏎", priority=True),
            Bind("notice", "enter", "ok", "continue", display="⏎", priority=True),
        ),
    ),
    Key(
        "Esc",
        "leave a text box; leave full screen; close this help or a message",
        (
            Bind("item", "escape", "leave_input", "leave box", show=False),
            Bind("notice", "escape", "ok", show=False),
            Bind("help", "escape", "close", "close"),
        ),
    ),
    Key(
        "?",
        "this help (`?`, `q` or `Esc` closes it)",
        (Bind("app", "question_mark", "help", "help"), Bind("help", "question_mark", "close", "close")),
        command=("Help", "How this works and every key"),
    ),
    Key(
        "t",
        "light / dark theme",
        (Bind("app", "t", "toggle_theme", "theme"),),
        command=("Light / dark", "Switch between the light and dark theme"),
    ),
    Key(
        "Ctrl+P", "command palette", (Bind("app", "ctrl+p", "command_palette", "palette", display="^p", builtin=True),)
    ),
    Key(
        "q",
        "close this help; at the end of a session, close the app",
        (Bind("help", "q", "close", "close"), Bind("done", "q", "app.quit", "quit")),
    ),
    Key("Ctrl+Q", "quit (everything submitted is saved)"),
)


def bindings(screen: str) -> list[BindingType]:
    """The `BINDINGS` of `screen` (not the app-wide ones, which are the app's own), in table order."""
    return [
        b
        for key in KEYS
        for bind in key.binds
        if bind.screen == screen and not bind.builtin
        for b in bind.bindings(key.key)
    ]


def footer(screen: str) -> list[tuple[str, str]]:
    """(key as shown, label) of every key the footer of `screen` shows when all its actions apply."""
    return [(bind.display or key.key, bind.label) for key in KEYS for bind in key.on(screen) if bind.show]


def commands(screen: str) -> Iterator[tuple[Key, Bind]]:
    """The command palette's commands on `screen`: each key with a command, and its bind there."""
    for key in KEYS:
        if key.command is not None:
            yield from ((key, bind) for bind in key.on(screen)[:1])


def help_markdown() -> str:
    """The `?` help's key table, as Markdown: one row per key, in table order."""
    rows = [f"| `{key.key}` | {key.does} |" for key in KEYS]
    return "\n".join(["| Key | Does |", "|---|---|", *rows])


def briefing_lines(b: Briefing, fields: dict[str, str]) -> list[str]:
    """The briefing's key lines for this part (`fields` fill the templates)."""
    return [
        f"  • {key.brief.text.format(**fields)} — {(key.brief.keys or 'key ' + key.key).format(**fields)}"
        for key in KEYS
        if key.brief is not None and key.brief.when(b)
    ]
