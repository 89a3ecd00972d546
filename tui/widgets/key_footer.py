"""The footer of keys, rebuilt only when the keys it shows change.

Textual's Footer rebuilds itself after every action (it cannot know whether the
bindings changed); here that happened several times per item, on the path from
submit to the next item. The keys on show rarely change within a screen.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A Footer that skips rebuilding when the shown keys, labels and enabled states are the same."""

    _shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if not (screen.app.app_focus and self.is_attached and screen is self.screen):
            self._shown = None  # Footer will not rebuild now; the next change must not be skipped
            super().bindings_changed(screen)
            return
        shown = tuple(
            (b.key, b.description, enabled) for (_, b, enabled, _) in screen.active_bindings.values() if b.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
