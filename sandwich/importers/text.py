"""Rebuilding readable text from tokenised articles, keeping where every token landed.

QuALITY articles in the NYU debate data are stored as CoreNLP (Penn Treebank) tokens:
``-LSB-`` for ``[``, ``\\`\\``` and ``''`` for double quotes, clitics such as ``'s`` and
``n't`` split off, and ``"\\n"`` tokens for line breaks. Debaters quote the article by
token span ``[start, end)``. `detokenize` joins the tokens with the spacing a reader
expects and returns each token's character range, so a span maps to the exact
characters of the rebuilt passage (`span_text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Penn Treebank escapes for brackets, and the two double-quote tokens.
_REPLACE = {
    "-LSB-": "[",
    "-RSB-": "]",
    "-LRB-": "(",
    "-RRB-": ")",
    "-LCB-": "{",
    "-RCB-": "}",
    "``": '"',
    "''": '"',
    "`": "'",
}
_NO_SPACE_BEFORE = {
    ".",
    ",",
    "?",
    "!",
    ";",
    ":",
    "...",
    "''",
    "-RSB-",
    "-RRB-",
    "-RCB-",
    "%",
    "n't",
    "N'T",
    "'s",
    "'S",
    "'ll",
    "'re",
    "'ve",
    "'m",
    "'d",
    "'t",
    "'T",
    "'LL",
    "'RE",
    "'VE",
    "'M",
    "'D",
    "!?",
    '!"',
    "?!",
}
_NO_SPACE_AFTER = {"``", "-LSB-", "-LRB-", "-LCB-", "`", "$", "#"}


@dataclass(frozen=True)
class Passage:
    """An article's text and, per token, its [start, end) character range in that text."""

    text: str
    offsets: list[tuple[int, int]]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Character range [a, b) of token span [start, end). Raises ValueError when out of range."""
        if not (0 <= start < end <= len(self.offsets)):
            raise ValueError(f"token span [{start}, {end}) is outside the article's {len(self.offsets)} tokens")
        return self.offsets[start][0], self.offsets[end - 1][1]

    def span_text(self, start: int, end: int) -> str:
        """The passage text a token span [start, end) covers."""
        a, b = self.span(start, end)
        return self.text[a:b]


def detokenize(tokens: Sequence[str]) -> Passage:
    """Join PTB tokens into readable text (no space before punctuation or clitics, none inside quotes).

    A double-quote token ``"`` left by some tokenisers is treated as opening or closing by
    alternation. Runs of ``"\\n"`` tokens become line breaks with no spaces around them.
    """
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    prev: str | None = None
    open_quote = False
    for tok in tokens:
        if tok == "\n":
            # trailing spaces before a line break are noise
            if parts and parts[-1] == " ":
                parts.pop()
                pos -= 1
            parts.append("\n")
            offsets.append((pos, pos + 1))
            pos += 1
            prev = tok
            continue
        out = _REPLACE.get(tok, tok)
        space = prev is not None and prev != "\n" and prev not in _NO_SPACE_AFTER and tok not in _NO_SPACE_BEFORE
        if tok == '"':
            space = space and not open_quote
            open_quote = not open_quote
        elif prev == '"' and open_quote:
            space = False  # just after an opening plain quote
        if space:
            parts.append(" ")
            pos += 1
        offsets.append((pos, pos + len(out)))
        parts.append(out)
        pos += len(out)
        prev = tok
    return Passage("".join(parts), offsets)
