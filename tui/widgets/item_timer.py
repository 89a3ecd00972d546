"""The item's countdown: a warning before the limit, then the item is forced or skipped."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.message import Message
from textual.widgets import Static


def clock_text(seconds_left: float) -> str:
    """m:ss, never negative."""
    s = max(0, int(seconds_left + 0.999))
    return f"{s // 60}:{s % 60:02d}"


class ItemTimer(Static):
    """Counts down from the study's time limit; posts Warning once, then Expired once."""

    class Warning(Message):
        """`warn_before_s` seconds are left."""

    class Expired(Message):
        """Time is up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]  # **kw are Static's keyword options, passed through
        self.clock = clock
        self.limit_s: float | None = None
        self.started = 0.0
        self.running = False

    def on_mount(self) -> None:
        self._ticker = self.set_interval(0.5, self.tick, pause=True)

    def start(self, limit_s: float | None, warn_before_s: float, spent_s: float = 0.0) -> None:
        """(Re)start the countdown for a new item; None means no limit (elapsed time is still shown).

        `spent_s`: seconds already spent on this item in earlier visits (a resumed session), so
        the limit goes on counting from where it was instead of starting again.
        """
        self.limit_s, self.warn_before_s = limit_s, warn_before_s
        self.started = self.clock() - max(0.0, spent_s)
        self.warned = self.expired = False
        self.running = True
        self.remove_class("-warning", "-expired")
        self._ticker.resume()
        self.tick()

    def stop(self) -> None:
        """Freeze the display (a submission is in flight or the screen is covered)."""
        self.running = False
        self._ticker.pause()

    def resume(self, away_s: float) -> None:
        """Go on after a pause that does not count (the overseer was away), `away_s` seconds long."""
        if self.expired:
            return
        self.started += max(0.0, away_s)
        self.running = True
        self._ticker.resume()
        self.tick()

    @property
    def elapsed(self) -> float:
        return max(0.0, self.clock() - self.started)

    def tick(self) -> None:
        if not self.running:
            return
        if self.limit_s is None:
            self.update(f"time {clock_text(self.elapsed)}", layout=False)  # fixed width: no relayout per tick
            return
        left = self.limit_s - self.elapsed
        self.update(f"time left {clock_text(left)}", layout=False)
        if not self.warned and left <= self.warn_before_s:
            self.warned = True
            self.add_class("-warning")
            self.post_message(self.Warning())
        if not self.expired and left <= 0:
            self.expired = True
            self.add_class("-expired")
            self.stop()
            self.post_message(self.Expired())
