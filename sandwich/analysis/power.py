"""`sandwich power`: how often each pre-registered test would succeed, by overseers and items.

Studies are simulated in memory from the study's own design (the real
assignment plan) and its parametric overseer profiles, then analysed with the
same bootstrap and hypothesis-test code as `sandwich analyze`. Power is the
share of simulated studies in which a test is "supported" at its alpha. It is
only as good as the skill profiles the study file assumes: SYNTHETIC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.table import Table

from sandwich.analysis.bootstrap import bootstrap_sums, cell_sums
from sandwich.analysis.data import EXPERT, JudgmentTable
from sandwich.analysis.hypotheses import test_hypothesis
from sandwich.assignment import DesignError, plan
from sandwich.config import Study
from sandwich.sim import parametric

POWER_REPLICATES = 200  # bootstrap replicates per simulated study (only the verdict is needed)
POWER_PERMUTATIONS = 500


@dataclass
class Design:
    """A study design as index arrays: who judges what under which group."""

    overseers: list[str]
    items: list[str]
    groups: list[str]
    overseer: np.ndarray
    item: np.ndarray
    group: np.ndarray
    expert: np.ndarray  # per judgment: judged by an expert
    stratum: np.ndarray  # per overseer


def build_design(study: Study, n_overseers: int, items_per_overseer: int) -> Design:
    """The study's assignment plan for this many non-experts and items per overseer."""
    conds = [c.name for c in study.conditions]
    ov = study.overseers
    k = items_per_overseer
    if ov.design == "within-subjects":
        k = max(len(conds), -(-k // len(conds)) * len(conds))  # a multiple of the conditions
        pool = max(n_overseers // len(conds), 1) * k
    else:
        pool = max(n_overseers // len(conds), 1) * k
    names = [f"o{n:03d}" for n in range(n_overseers)]
    experts = [f"x{n:02d}" for n in range(len(ov.experts))]
    items = [f"i{n:04d}" for n in range(pool)]
    plan_ = plan(
        items, conds, names, k, design=ov.design, experts=experts, expert_condition=study.expert_condition, seed=ov.seed
    )
    everyone = names + experts
    groups = conds + ([EXPERT] if experts else [])
    o_idx = {n: i for i, n in enumerate(everyone)}
    i_idx = {n: i for i, n in enumerate(items)}
    is_exp = np.array([a.overseer in experts for a in plan_])
    g = np.array([groups.index(EXPERT) if e else conds.index(a.condition) for a, e in zip(plan_, is_exp, strict=True)])
    strata = np.array([1 if n in experts else 0 for n in everyone])
    if ov.design == "between-subjects":
        first = {a.overseer: conds.index(a.condition) + 2 for a in plan_ if a.overseer in names}
        strata = np.array([first.get(n, 1) for n in everyone])
    return Design(
        everyone,
        items,
        groups,
        np.array([o_idx[a.overseer] for a in plan_]),
        np.array([i_idx[a.item_id] for a in plan_]),
        g,
        is_exp,
        strata,
    )


def simulate_table(study: Study, d: Design, rng: np.random.Generator) -> JudgmentTable:
    """One simulated study on design `d`, with the study's parametric profiles."""
    sim = study.simulation
    from sandwich.tasks import kind as task_kinds

    n_choices = task_kinds.get(study.task.kind).n_answers
    skills = np.array(
        [
            parametric.skill_for(sim.non_expert, g)
            if g != EXPERT
            else parametric.skill_for(sim.expert, study.expert_condition)
            for g in d.groups
        ]
    )
    noise = np.where(np.arange(len(d.overseers)) >= 0, sim.non_expert.noise, 0.0)
    noise[np.unique(d.overseer[d.expert])] = sim.expert.noise
    offsets = noise * rng.standard_normal(len(d.overseers))
    item_eff = parametric.ITEM_SPREAD * rng.standard_normal(len(d.items))
    truth = rng.integers(0, n_choices, len(d.items))
    p = skills[d.group] + offsets[d.overseer] + item_eff[d.item]
    n = len(p)
    choice = np.empty(n, dtype=np.int64)
    conf = np.empty(n)
    time = np.empty(n)
    for mask, prof in ((~d.expert, sim.non_expert), (d.expert, sim.expert)):
        if mask.any():
            c, cf, t = parametric.draw(
                rng,
                p[mask],
                truth[d.item[mask]],
                np.full(mask.sum(), n_choices),
                bias=prof.bias,
                scale=study.judgment.confidence,
                seconds=prof.seconds_per_item,
            )
            choice[mask], conf[mask], time[mask] = c, cf, t
    return JudgmentTable(
        d.overseers,
        d.items,
        d.groups,
        d.overseer,
        d.item,
        d.group,
        (choice == truth[d.item]).astype(float),
        conf / 100.0,
        time,
        d.stratum,
        choice.astype(str).astype(object),
    )


@dataclass
class PowerResult:
    """Power per hypothesis over the overseers x items grid."""

    study: str
    overseers: list[int]
    items: list[int]
    sims: int
    power: dict[str, np.ndarray] = field(default_factory=dict)  # id -> (len(overseers), len(items))
    labels: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def power_analysis(
    study: Study,
    overseers: list[int],
    items: list[int],
    *,
    sims: int = 200,
    seed: int = 0,
    incidence: list[tuple[str, str, str]] | None = None,
) -> PowerResult:
    """Simulate `sims` studies per cell and count how often each hypothesis is supported.

    An observed design needs `incidence` ((overseer, item, condition) per observed judgment): the
    simulated studies keep its unbalanced mix (see observed_power.py).
    """
    hyps = list(study.preregistration.hypotheses)
    res = PowerResult(study.study, overseers, items, sims)
    if not hyps:
        res.notes.append("The study pre-registers no hypotheses: nothing to compute power for.")
        return res
    for h in hyps:
        res.power[h.id] = np.full((len(overseers), len(items)), np.nan)
        res.labels[h.id] = f"{h.compare[0]} vs {h.compare[1]} ({h.metric}, {h.alternative}, α={h.alpha:g})"
    rng = np.random.default_rng(seed)
    for a, n_o in enumerate(overseers):
        if study.overseers.design == "within-subjects" and n_o < len(study.conditions):
            res.notes.append(
                f"{n_o} overseers: a within-subjects design with {len(study.conditions)} "
                "conditions needs at least that many overseers."
            )
            continue
        for b, k in enumerate(items):
            try:
                if study.overseers.design == "observed":
                    from sandwich.analysis.observed_power import build_observed_design

                    d = build_observed_design(study, incidence or [], n_o, k, seed=seed + 7919 * a + b)
                else:
                    d = build_design(study, n_o, k)
            except DesignError as e:
                res.notes.append(f"{n_o} overseers × {k} items: {e.message}")
                continue
            hits = {h.id: 0 for h in hyps}
            floor = {h.id: 0 for h in hyps}  # studies whose permutation test could not reach α at all
            for s in range(sims):
                t = simulate_table(study, d, rng)
                draws, _, _ = bootstrap_sums(cell_sums(t), POWER_REPLICATES, int(rng.integers(2**31)))
                for h in hyps:
                    r = test_hypothesis(
                        h,
                        "confirmatory",
                        t,
                        draws,
                        study.baseline_condition,
                        POWER_REPLICATES,
                        permutations=POWER_PERMUTATIONS,
                        seed=s,
                    )
                    hits[h.id] += r.verdict == "supported"
                    floor[h.id] += r.verdict == "not testable at α"
            for h in hyps:
                res.power[h.id][a, b] = hits[h.id] / sims
                if floor[h.id] >= 0.1 * sims:
                    res.notes.append(
                        f"{n_o} overseers × {k} items: in {floor[h.id]} of {sims} simulated studies "
                        f"{h.id}'s smallest attainable p was above α = {h.alpha:g} (too few overseers, or "
                        "ties in the permutation distribution): this design often cannot reach α — add "
                        "overseers or use test: bootstrap."
                    )
    if study.overseers.design == "within-subjects" and any(k % len(study.conditions) for k in items):
        res.notes.append(f"items per overseer are rounded up to a multiple of the {len(study.conditions)} conditions.")
    return res


def power_table(res: PowerResult) -> list[Table]:
    """One table per hypothesis: rows = overseers, columns = items per overseer."""
    tables = []
    for hid, grid in res.power.items():
        t = Table(
            title=f"Power of {hid}: {res.labels[hid]} — SYNTHETIC, {res.sims} simulated studies per cell",
            title_justify="left",
        )
        t.add_column("overseers \\ items per overseer")
        for k in res.items:
            t.add_column(str(k), justify="right")
        for a, n_o in enumerate(res.overseers):
            cells = []
            for v in grid[a]:
                cells.append("—" if not np.isfinite(v) else (f"[green]{v:.0%}[/]" if v >= 0.8 else f"{v:.0%}"))
            t.add_row(str(n_o), *cells)
        tables.append(t)
    if res.notes:
        t = Table(title="notes", show_header=False, title_justify="left")
        t.add_column("note")
        for n in res.notes:
            t.add_row(n)
        tables.append(t)
    return tables


def write_power(res: PowerResult, out: Path) -> list[Path]:
    """power.png (power vs items per overseer, one line per overseer count) and power.json."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    if res.power:
        fig, axes = plt.subplots(1, len(res.power), figsize=(5 * len(res.power), 4), dpi=110, squeeze=False)
        for ax, (hid, grid) in zip(axes[0], res.power.items(), strict=True):
            for a, n_o in enumerate(res.overseers):
                if not np.isfinite(grid[a]).any():
                    continue
                ax.plot(res.items, grid[a] * 100, marker="o", label=f"{n_o} overseers")
            ax.axhline(80, color="grey", ls="--", lw=1)
            ax.set_ylim(0, 102)
            ax.set_xlabel("items per overseer")
            ax.set_ylabel("power (%)")
            ax.set_title(f"{hid}: {res.labels[hid]}", fontsize=8)
            ax.legend(fontsize=7)
        fig.text(0.99, 0.01, "SYNTHETIC — parametric overseers", ha="right", color="#b00020", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "power.png")
        plt.close(fig)
        written.append(out / "power.png")
    (out / "power.json").write_text(
        json.dumps(
            {
                "study": res.study,
                "overseers": res.overseers,
                "items": res.items,
                "sims": res.sims,
                "notes": res.notes,
                "power": {k: v.tolist() for k, v in res.power.items()},
            },
            indent=2,
        )
    )
    written.append(out / "power.json")
    return written
