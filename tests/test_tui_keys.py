"""One key table (`tui/keys.py`) renders the footer, the `?` help, the briefing and the command palette.

The test reads only the table, then looks at each surface as the app shows it at 80×24 (Pilot) and checks
that it lists exactly the table's entries for that screen, so a key documented in one place only fails here.
A second test checks that every screen and widget of the app binds exactly the keys the table gives it.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import Command, CommandList, CommandPalette
from textual.dom import DOMNode
from textual.widgets import Markdown, Static
from textual.widgets._footer import FooterKey
from textual.widgets._markdown import MarkdownTable
from tui_support import add_assistance, create, screen_text, wait_for, write_study

import tui.app
import tui.screens.briefing
import tui.screens.done
import tui.screens.help
import tui.screens.item
import tui.screens.notice
import tui.widgets.choice_row
from sandwich.service import StudyService
from tui.app import OverseerApp
from tui.keys import KEYS
from tui.screens.briefing import BriefingScreen
from tui.screens.help import HelpScreen


def footer_keys(app: OverseerApp) -> list[tuple[str, str]]:
    """(key shown, label) of every key in the footer on screen now, left to right (the palette's docked right)."""
    return [(k.key_display, k.description) for k in app.screen.query(FooterKey)]


def table_footer(screen: str, applies: set[str] | None = None) -> list[tuple[str, str]]:
    """The table's footer entries for `screen`: its shown binds (app-wide ones included) whose action applies."""
    return [
        (b.display or k.key, b.label)
        for k in KEYS
        for b in k.binds
        if b.screen in (screen, "app") and b.show and (applies is None or b.action in applies)
    ]


def test_footer_help_briefing_and_palette_list_exactly_the_key_table(tmp_path: Path) -> None:
    # a part with help and follow-ups and an optional reason: every key of the table applies
    db = create(
        write_study(
            tmp_path,
            conditions="\n  - {name: explain, assistance: [explanation]}",
            overseers=1,
            judgment="{choices: item, confidence: [50, 75, 100], rationale: optional}",
        )
    )
    add_assistance(db)

    async def run() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        with StudyService(db) as svc:
            app = OverseerApp(svc.for_overseer("ana"))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: isinstance(app.screen, BriefingScreen))
                await pilot.pause(0.2)
                text = app.screen.query_one("#briefing-text", Static).content
                seen["briefing"] = getattr(text, "plain", str(text))
                seen["briefing footer"] = footer_keys(app)
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.screen is app.item_screen and app.item_screen.view is not None)
                await pilot.pause(0.3)
                seen["item footer"] = footer_keys(app)
                # what applies to this item, by the screen's own rule (a kind-specific key may not)
                seen["applies"] = {
                    b.action
                    for k in KEYS
                    for b in k.binds
                    if b.screen in ("item", "app")
                    and (app if b.screen == "app" else app.item_screen).check_action(b.action.split("(")[0], ())
                    is not False
                }
                await pilot.press("ctrl+p")
                await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
                commands = app.screen.query_one(CommandList)
                await wait_for(pilot, lambda: commands.option_count > 0)
                await pilot.pause(0.3)
                hits = [o.hit for o in commands.options if isinstance(o, Command)]
                seen["palette"] = {(str(h.text or h.prompt), h.help) for h in hits}
                seen["textual's own"] = {c.title for c in App.get_system_commands(app, app.item_screen)}
                await pilot.press("escape")
                await wait_for(pilot, lambda: app.screen is app.item_screen)
                await pilot.press("question_mark")
                await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
                await pilot.pause(0.3)
                table = app.screen.query_one(Markdown).query_one(MarkdownTable)
                seen["help rows"] = [[c.plain for c in row] for row in table._rows]
                pages = [screen_text(app)]
                for _ in range(12):
                    if "end ↑" in pages[-1]:
                        break
                    await pilot.press("pagedown")
                    await pilot.pause(0.1)
                    pages.append(screen_text(app))
                seen["help shown"] = "\n".join(pages)
        return seen

    seen = asyncio.run(run())

    # the footer: the table's shown binds for the screen (app-wide ones included), in the table's order
    assert seen["item footer"] == table_footer("item", seen["applies"])
    assert seen["briefing footer"] == table_footer("briefing")
    assert {("s", "submit"), ("a", "model"), ("f", "ask"), ("?", "help")} <= set(seen["item footer"])

    # the help: one row per key of the table, in order, each shown on one of its pages
    assert seen["help rows"] == [[k.key, k.does.replace("`", "")] for k in KEYS]
    for k in KEYS:
        assert re.search(
            r"│ " + re.escape(k.key.split()[0]) + r" .*│ " + re.escape(k.does.replace("`", "")[:20]), seen["help shown"]
        ), f"help row {k.key!r} never shown"

    # the briefing: one line per key the table briefs (all apply in this part), naming its key
    lines = [x for x in seen["briefing"].splitlines() if x.startswith("  • ")]
    expected = [k for k in KEYS if k.brief is not None]
    assert len(lines) == len(expected) >= 6
    for line, k in zip(lines, expected, strict=True):
        words = k.brief.text.split("{")[0].strip() if k.brief else ""
        assert line.startswith(f"  • {words}"), line
        assert re.search(r" — keys? " + re.escape(k.key[0]), line), (k.key, line)  # 1–9, z…, +, w, s, a, f

    # the palette: the table's commands for the item screen plus Textual's own (theme, quit, keys, …), no others
    ours = {
        (k.command[0], f"{k.command[1]} ({k.key})")
        for k in KEYS
        if k.command is not None and any(b.action in seen["applies"] for b in k.binds)
    }
    assert {title for title, _ in seen["palette"]} == {t for t, _ in ours} | seen["textual's own"]
    assert ours <= seen["palette"]
    assert {"Submit judgment", "Help", "Ask the model"} <= {t for t, _ in ours}


def test_every_binding_in_the_app_comes_from_the_key_table() -> None:
    """No screen or widget binds a key the table does not list for it (nor misses one it lists)."""
    classes: dict[str, type[DOMNode]] = {
        "app": tui.app.OverseerApp,
        "item": tui.screens.item.ItemScreen,
        "briefing": tui.screens.briefing.BriefingScreen,
        "help": tui.screens.help.HelpScreen,
        "notice": tui.screens.notice.NoticeScreen,
        "done": tui.screens.done.DoneScreen,
        "choices": tui.widgets.choice_row.ChoiceRow,
    }
    for screen, cls in classes.items():
        bound = {(b.key, b.action) for b in cls.BINDINGS if isinstance(b, Binding)}
        table = {
            (key, b.action.format(n=n) if b.each else b.action)
            for k in KEYS
            for b in k.binds
            if b.screen == screen and not b.builtin
            for n, key in enumerate(b.keys.split(",") if b.each else [b.keys])
        }
        assert bound == table and len(bound) == len(cls.BINDINGS), screen
    # and no other module of the app declares bindings of its own
    root = Path(tui.app.__file__).parent
    declared = {p.relative_to(root).as_posix() for p in root.rglob("*.py") if "Binding(" in p.read_text()}
    assert declared == {"keys.py"}
