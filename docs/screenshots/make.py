"""Turn the TUI snapshot SVGs into the PNG screenshots in this folder.

pytest tests/test_tui_snapshots.py --snapshot-update   # refresh the SVGs
python docs/screenshots/make.py                        # needs rsvg-convert (apt-get install librsvg2-bin)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE.parent.parent / "tests" / "__snapshots__" / "test_tui_snapshots"
NAMES = {
    "test_briefing": "briefing",
    "test_item_with_code_and_help": "item",
    "test_judgment_filled_in": "judgment",
    "test_done": "done",
    "test_followup_answer": "followup",
    "test_followup_full_screen": "followup-full-screen",
    "test_help_screen": "help",
    "test_debate": "debate",
    "test_debate_full_screen": "debate-full-screen",
    "test_too_small": "too-small",
}


def main() -> None:
    if shutil.which("rsvg-convert") is None:
        sys.exit("rsvg-convert not found: apt-get install librsvg2-bin")
    for svg in sorted(SNAPSHOTS.glob("*.svg")):
        m = re.match(r"(\w+?)(?:\[|_)(\d+x\d+)\]?\.svg", svg.name)
        if not m or m.group(1) not in NAMES:
            continue
        # rsvg drops leading no-break spaces inside a text run; plain spaces with xml:space keep columns aligned
        text = svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1).replace("&#160;", " ")
        out = HERE / f"{NAMES[m.group(1)]}-{m.group(2)}.png"
        with tempfile.NamedTemporaryFile("w", suffix=".svg") as tmp:
            tmp.write(text)
            tmp.flush()
            subprocess.run(["rsvg-convert", tmp.name, "-o", str(out)], check=True)
        print(out.relative_to(HERE.parent.parent))


if __name__ == "__main__":
    main()
