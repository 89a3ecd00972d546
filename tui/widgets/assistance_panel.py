"""The model's help for this condition only: one tab per kind, plus live follow-ups where allowed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane, Tabs

from sandwich import assistance
from sandwich.views import AssistanceView, ItemView
from tui.widgets.decomposition import DecompositionPane
from tui.widgets.followup import FollowUpBox
from tui.widgets.help_pane import KindPane


def title(kind: str) -> str:
    """A kind's tab title, from the registry."""
    return assistance.get(kind).title


def is_tree(kind: str | None) -> bool:
    """True for a kind the app lays out as a tree of sub-questions (follow-ups can name a node)."""
    found = assistance.find(kind) if kind else None
    return found is not None and found.pane == "tree"


class AssistancePanel(Vertical):
    """Hidden until the overseer opens it (a), so the time to first use of help is measured honestly."""

    ALLOW_MAXIMIZE = True  # m gives the whole screen to the help and its follow-ups (readable at 80×24)
    narrow = False
    live_followups = False

    def compose(self) -> ComposeResult:
        yield Static("The model's help is hidden. Press [b]a[/b] to open it.", id="assist-closed")
        with TabbedContent(id="assist-tabs"):
            for kind in assistance.kinds():  # every registered kind has a tab; configure shows the condition's
                with TabPane(kind.title, id=f"tab-{kind.name}"):
                    if kind.pane == "tree":
                        yield DecompositionPane(id=f"pane-{kind.name}")
                    else:
                        yield KindPane(kind.name, id=f"pane-{kind.name}")
        yield FollowUpBox(id="followup")

    def configure(self, view: ItemView, help_views: list[AssistanceView]) -> None:
        """Show only this condition's kinds, filled with this item's help; start closed."""
        tabs = self.query_one(TabbedContent)
        if list(view.assistance_kinds) != getattr(self, "kinds", None):  # a new part: other tabs
            self.kinds = list(view.assistance_kinds)
            for kind in assistance.names():
                if kind in self.kinds:
                    tabs.show_tab(f"tab-{kind}")
                else:
                    tabs.hide_tab(f"tab-{kind}")
            tabs.query_one(Tabs).display = len(self.kinds) > 1  # one kind: its name is in the border title
        by_kind = {v.kind: v for v in help_views}
        for kind in self.kinds:
            # why the ignore below: query_one returns a Widget; each #pane-<kind> is a HelpPane, which has show
            self.query_one(f"#pane-{kind}").show(by_kind.get(kind) or AssistanceView(kind=kind, status="missing"))  # type: ignore[attr-defined]
        if self.kinds and tabs.active != f"tab-{self.kinds[0]}":
            tabs.active = f"tab-{self.kinds[0]}"
        self.query_one(FollowUpBox).reset(view.assignment_id)
        self.live_followups = view.live_followups
        self.opened = False

    @property
    def opened(self) -> bool:
        return getattr(self, "_opened", False)

    @opened.setter
    def opened(self, value: bool) -> None:
        # inline styles, not a CSS class: a class change restyles every widget inside the panel
        self._opened = value
        self.query_one("#assist-closed").display = not value
        self.query_one(TabbedContent).display = value
        self.query_one(FollowUpBox).display = value and self.live_followups
        self.fit(narrow=self.narrow)

    def fit(self, *, narrow: bool) -> None:
        """Closed and stacked under the item (narrow terminals), the panel is one line of text."""
        self.narrow = narrow
        self.styles.height = 3 if narrow and not self.opened else "1fr"
        self.styles.border = ("round", (self.app.current_theme.secondary or "#888888") if self.opened else "#666666")

    @property
    def active_kind(self) -> str | None:
        """The kind in the tab now shown."""
        active = self.query_one(TabbedContent).active
        return active.removeprefix("tab-") if active else None

    @property
    def decomposition(self) -> DecompositionPane:
        return self.query_one(DecompositionPane)
