"""Cost of refusing hostile study files: YAML alias bombs and deep nesting, against a normal study.

Each hostile file is a few hundred bytes to a few kB. Before the loader's limits, an alias bomb of
L lines expanded to 10^L scalars (L=6: ~2 s and ~300 MB; each further line x10) and nesting past
~600 levels ended in a RecursionError. Now both are refused at the first alias or the level past
the limit. Prints wall time and peak Python memory per file, and the ratio to loading the shipped
`studies/reading-mc.yaml` (the baseline).
Run: python benchmarks/study_loader.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

from sandwich.errors import StudyFileError
from sandwich.studyfile import validate_text

REPO = Path(__file__).resolve().parent.parent


def bomb(lines: int) -> str:
    """`lines` lines of ten aliases of the line above: stands for 10^lines scalars."""
    out = ["study: s", "question: q?", 'x0: &a0 ["ab","ab","ab","ab","ab","ab","ab","ab","ab","ab"]']
    out += [f"x{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, lines)]
    return "\n".join(out) + "\n"


def deep(levels: int) -> str:
    return "study: s\nquestion: q?\ndescription: " + "[" * levels + "]" * levels + "\n"


def measure(text: str, repeat: int) -> tuple[float, float, str]:
    """Median seconds, peak MB of Python allocations, and the outcome's first line."""
    times = []
    outcome = "ok"
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            validate_text(text, "x.yaml")
        except StudyFileError as e:
            outcome = e.problems[0]
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    try:
        validate_text(text, "x.yaml")
    except StudyFileError:
        pass
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return sorted(times)[len(times) // 2], peak, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    base_t, base_m, _ = measure((REPO / "studies" / "reading-mc.yaml").read_text(), args.repeat)
    print(f"{'file':<28}{'bytes':>8}{'median ms':>11}{'x baseline':>12}{'peak MB':>9}  outcome")
    print(
        f"{'baseline reading-mc.yaml':<28}{len((REPO / 'studies' / 'reading-mc.yaml').read_text()):>8}"
        f"{base_t * 1e3:>11.2f}{1.0:>12.2f}{base_m:>9.2f}  ok"
    )
    cases = [(f"alias bomb, 10^{n} scalars", bomb(n)) for n in (6, 9, 12)]
    cases += [(f"nesting {n} levels", deep(n)) for n in (100, 1_000, 100_000)]
    for name, text in cases:
        t, m, outcome = measure(text, args.repeat)
        print(f"{name:<28}{len(text):>8}{t * 1e3:>11.2f}{t / base_t:>12.2f}{m:>9.2f}  {outcome[:70]}")


if __name__ == "__main__":
    main()
