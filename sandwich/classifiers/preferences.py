"""Preference sets: who preferred which of two responses, per label source, for Bradley–Terry reward models.

A **gold pair** is one pairwise item: a prompt, responses A and B in canonical order, and gold ("A"/"B").
A **preference** is one training row (pair_id, problem_id, prompt, chosen, rejected, strength, source, split):
`chosen` is the response the source prefers and `strength` ∈ [0.5, 1] how strongly (0.5: a tie, chosen is A).

Label sources, named as the pointwise classifiers' (`sandwich.classifiers.data`), so one study-file vocabulary
serves both:

- ``expert`` (alias ``gold``): one row per train pair, chosen = the gold response, strength 1;
- ``<condition>``: one row per non-expert judgment in that condition, strength = confidence/100;
- ``bradley-terry:<condition>``: one row per pair, a Bradley–Terry aggregate over the condition's overseers
  (crowd-kit's ``BradleyTerry``, Zermelo's MM iteration over every response of the condition, so responses
  shared between pairs of one prompt link up); strength = p_w / (p_w + p_l).

People and simulated overseers are never pooled: a condition source reads one kind of judgment,
``<source>@human``, ``@llm`` or ``@parametric``; without a suffix, the kind `analyze` reports by default
(`sandwich.classifiers.data.kind_to_read`, the same choice as for pointwise labels).

Skipped judgments, judgments without a choice and judgments whose assistance failed (the overseer did not get
the condition's help) are left out. Only train-split pairs feed a source; a train pair whose problem also has a
test pair is dropped too (held out *by problem*).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sandwich.classifiers.data import JUDGMENT_KINDS, kind_to_read, source_conditions, split_kind
from sandwich.errors import SandwichError

EXPERT = "expert"  # gold as a label source (the ceiling)
GOLD_ALIAS = "gold"  # accepted for EXPERT
BRADLEY_TERRY = "bradley-terry"  # the aggregate: bradley-terry:<condition>[@kind]
SOURCES_HINT = (
    "Use 'expert' (or 'gold'), a condition name, or bradley-terry:<condition>, optionally followed "
    "by @human, @llm or @parametric (people and simulations are never pooled); 'expert' takes no "
    "suffix."
)


@dataclass(frozen=True)
class GoldPair:
    """One pairwise item with its gold ("A" or "B"; None when the study has no gold for it)."""

    pair_id: str
    problem_id: str
    split: str
    prompt: str
    response_a: str
    response_b: str
    gold: str | None
    passed_a: int | None = None  # hidden tests each response passes, out of `tests` (execution gold only)
    passed_b: int | None = None
    tests: int | None = None


@dataclass(frozen=True)
class Preference:
    """One training row: `source` prefers `chosen` over `rejected` with `strength` ∈ [0.5, 1]."""

    pair_id: str
    problem_id: str
    prompt: str
    chosen: str
    rejected: str
    strength: float
    source: str
    split: str


@dataclass(frozen=True)
class PairJudgment:
    """What a preference source needs of a stored judgment (choice canonical "A"/"B"/"tie")."""

    overseer: str
    item_id: str
    condition: str
    choice: str | None
    confidence: int | None
    kind: str  # the kind of overseer: 'human', 'llm' or 'parametric'
    assistance_failed: bool = False
    skipped: bool = False


@dataclass
class PreferenceSet:
    """A label source's preferences (train split only), how many judgments they came from, and notes."""

    source: str
    rows: list[Preference]
    n_judgments: int = 0
    notes: list[str] | None = None

    @property
    def n_pairs(self) -> int:
        """Distinct pairs the source labels."""
        return len({r.pair_id for r in self.rows})

    def data_hash(self) -> str:
        """A hash of exactly what training sees."""
        payload = json.dumps(sorted((r.pair_id, r.chosen, round(r.strength, 6)) for r in self.rows))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def records(self) -> list[dict[str, Any]]:
        """Rows as plain dicts (TRL export, polars)."""
        return [asdict(r) for r in self.rows]


def parse_source(source: str) -> tuple[bool, str | None, str]:
    """(Bradley–Terry aggregate?, kind of overseer or None for the default kind, condition) of a source name,
    read with the pointwise parsers (`source_conditions`, `split_kind`); the condition is 'expert' for gold.

    Raises SandwichError for a name outside the vocabulary (another aggregation, an unknown kind, a suffixed
    'expert')."""
    if source in (EXPERT, GOLD_ALIAS):
        return False, None, EXPERT
    agg, cond = source_conditions(source)
    kind = split_kind(source)[1]
    if (
        cond in (EXPERT, GOLD_ALIAS)
        or not cond
        or agg not in (None, BRADLEY_TERRY)
        or kind not in (None, *JUDGMENT_KINDS)
    ):
        raise SandwichError(f"Unknown label source {source!r}.", hint=SOURCES_HINT)
    return agg is not None, kind, cond


def check_source(source: str, conditions: Sequence[str]) -> None:
    """Raise SandwichError unless `source` names gold or one of the study's `conditions`."""
    cond = parse_source(source)[2]
    if cond != EXPERT and cond not in conditions:
        raise SandwichError(
            f"Unknown label source {source!r}: the study has no condition {cond!r}.",
            hint=SOURCES_HINT.replace("a condition name", "a condition name (" + ", ".join(conditions) + ")"),
        )


def training_pairs(pairs: Sequence[GoldPair]) -> list[GoldPair]:
    """Train-split pairs whose problem has no test-split pair (held out by problem, whatever the split says)."""
    test_problems = {p.problem_id for p in pairs if p.split == "test"}
    return [p for p in pairs if p.split == "train" and p.problem_id not in test_problems]


def held_out_pairs(pairs: Sequence[GoldPair]) -> list[GoldPair]:
    """Test-split pairs with gold: what every reward model is scored on."""
    return [p for p in pairs if p.split == "test" and p.gold in ("A", "B")]


def _row(p: GoldPair, choice: str, strength: float, source: str) -> Preference:
    a_first = choice != "B"  # "A" or a tie (strength 0.5): chosen is A
    return Preference(
        p.pair_id,
        p.problem_id,
        p.prompt,
        p.response_a if a_first else p.response_b,
        p.response_b if a_first else p.response_a,
        strength,
        source,
        p.split,
    )


def strength_of(choice: str, confidence: int | None) -> float:
    """A judgment's strength: its confidence in percent as a probability in [0.5, 1] (0.5 for a tie)."""
    if choice == "tie":
        return 0.5
    c = 1.0 if confidence is None else confidence / 100.0
    return min(1.0, max(0.5, c))


def usable(j: PairJudgment) -> bool:
    """A judgment that carries a preference: not skipped, with a choice, and its assistance did not fail."""
    return not j.skipped and j.choice in ("A", "B", "tie") and not j.assistance_failed


def _carries_choice(j: PairJudgment) -> bool:
    return not j.skipped and j.choice in ("A", "B", "tie")


def preference_set(
    pairs: Sequence[GoldPair], judgments: Iterable[PairJudgment], source: str, planned: Sequence[str] | None = None
) -> PreferenceSet:
    """The preferences of one label source over the train split (see the module docstring for the sources).

    `planned`: the study's planned judgment sources (`sandwich.analysis.sources.planned_sources`), which pick
    the kind an unsuffixed source reads; None: people when there are any, else the first simulated kind.
    Raises SandwichError for a name outside the vocabulary."""
    agg, kind, cond = parse_source(source)
    train = {p.pair_id: p for p in training_pairs(pairs)}
    if cond == EXPERT:
        return PreferenceSet(
            EXPERT, [_row(p, p.gold, 1.0, EXPERT) for p in train.values() if p.gold in ("A", "B")], notes=[]
        )
    of_cond = [j for j in judgments if j.condition == cond]
    kind, kind_notes = kind_to_read([j.kind for j in of_cond if _carries_choice(j)], kind, planned)
    chosen = [j for j in of_cond if j.kind == kind and j.item_id in train]
    ok = [j for j in chosen if usable(j)]
    notes = []
    if failed := sum(j.assistance_failed and not j.skipped for j in chosen):
        notes.append(f"{failed} judgment(s) whose assistance failed are left out.")
    notes += kind_notes
    if not agg:
        rows = [
            _row(train[j.item_id], str(j.choice), strength_of(str(j.choice), j.confidence), source)
            for j in sorted(ok, key=lambda j: (j.item_id, j.overseer))
        ]
        return PreferenceSet(source, rows, len(ok), notes)
    return PreferenceSet(source, bradley_terry_aggregate(train, ok, source, notes), len(ok), notes)


def _response_id(problem_id: str, text: str) -> str:
    return hashlib.sha1(f"{problem_id}\0{text}".encode()).hexdigest()[:16]


def bradley_terry_aggregate(
    train: dict[str, GoldPair], judgments: Sequence[PairJudgment], source: str, notes: list[str]
) -> list[Preference]:
    """One preference per judged pair from crowd-kit's Bradley–Terry over the condition's overseers.

    Bradley & Terry (1952): P(i ≻ j) = p_i / (p_i + p_j); crowd-kit fits p by Zermelo's MM iteration over all
    comparisons (each overseer's judgment one comparison). A response identical in two pairs of one prompt is
    one item. Ties carry no winner and are not fed to it (a pair judged only as ties is dropped).
    """
    import pandas as pd
    from crowdkit.aggregation import BradleyTerry

    rows = []
    for j in judgments:
        if j.choice == "tie":
            continue
        p = train[j.item_id]
        a, b = _response_id(p.problem_id, p.response_a), _response_id(p.problem_id, p.response_b)
        rows.append({"worker": j.overseer, "left": a, "right": b, "label": a if j.choice == "A" else b})
    if ties := sum(j.choice == "tie" for j in judgments):
        notes.append(f"Bradley–Terry aggregate: {ties} tie judgment(s) carry no winner and are not counted.")
    if not rows:
        return []
    scores = BradleyTerry(n_iter=500, tol=1e-7).fit_predict(pd.DataFrame(rows)).to_dict()
    out = []
    for pid in sorted({j.item_id for j in judgments if j.choice != "tie"}):
        p = train[pid]
        sa = scores[_response_id(p.problem_id, p.response_a)]
        sb = scores[_response_id(p.problem_id, p.response_b)]
        pa = 0.5 if sa + sb <= 0 else sa / (sa + sb)
        out.append(_row(p, "A" if pa >= 0.5 else "B", max(pa, 1.0 - pa), source))
    return out


def default_sources(
    conditions: Sequence[str], judgments: Sequence[PairJudgment], planned: Sequence[str] | None = None
) -> list[str]:
    """Expert, then per condition each kind of overseer with usable judgments, per judgment and Bradley–Terry
    aggregated: the default kind unsuffixed (`<condition>`, what the floor reads), the others as `@<kind>`."""
    out = [EXPERT]
    for c in conditions:
        kinds = [j.kind for j in judgments if j.condition == c and _carries_choice(j)]
        default = kind_to_read(kinds, None, planned)[0]
        for k in JUDGMENT_KINDS:
            if any(j.condition == c and j.kind == k and usable(j) for j in judgments):
                name = c if k == default else f"{c}@{k}"
                out += [name, f"{BRADLEY_TERRY}:{name}"]
    return out


# ------------------------------------------------------------------ the store
def gold_pairs_from_store(svc: Any) -> list[GoldPair]:
    """Every pairwise item of the study with its gold and, for execution gold, each response's hidden tests
    passed (lead side), from the pairwise task's `pair_frame`."""
    try:
        from sandwich.tasks.pairwise import pair_frame  # the pairwise task kind's reader
    except ImportError as e:
        raise SandwichError(
            "This checkout has no pairwise task kind (sandwich.tasks.pairwise).",
            hint="Install a sandwich version with `task.kind: pairwise`.",
        ) from e
    frame = pair_frame(svc.store)
    return [
        GoldPair(
            str(r["item_id"]),
            str(r["problem_id"]),
            str(r["split"]),
            r["prompt"] or "",
            r["response_a"] or "",
            r["response_b"] or "",
            r["gold"],
            r.get("passed_a"),
            r.get("passed_b"),
            r.get("tests"),
        )
        for r in frame.iter_rows(named=True)
    ]


def judgments_from_store(svc: Any) -> list[PairJudgment]:
    """Every non-expert judgment (people and simulations) as a PairJudgment."""
    non_experts = {o.name for o in svc.overseers() if o.role == "non_expert"}
    return [
        PairJudgment(
            j.overseer,
            j.item_id,
            j.condition,
            j.choice,
            j.confidence,
            str(j.source),
            bool(j.assistance_failed),
            bool(j.skipped),
        )
        for j in svc.store.judgments()
        if j.overseer in non_experts
    ]


def preferences_from_store(svc: Any, source: str) -> PreferenceSet:
    """One label source's preferences read from a pairwise study (see :func:`preference_set`)."""
    from sandwich.analysis.sources import planned_sources

    check_source(source, [c.name for c in svc.study.conditions])
    return preference_set(
        gold_pairs_from_store(svc), judgments_from_store(svc), source, planned_sources(None, svc.study)
    )


def by_problem(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """Rows (anything with a problem_id) grouped by problem."""
    out: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        out[r.problem_id].append(r)
    return out
