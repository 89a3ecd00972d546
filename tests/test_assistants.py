"""Model assistance: the five strategies on the embedded model, precompute, blinding, parsing, follow-ups."""

from __future__ import annotations

import inspect
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from db_sql import sql
from typer.testing import CliRunner

from assistants import consult, critique, debate, decompose, explain
from assistants.backends.base import Generation, Messages
from assistants.precompute import needed, plan, precompute
from assistants.replies import flaws, questions, quotes, truncate_words
from assistants.strategy import run_strategies, steps_for
from sandwich.cli import app
from sandwich.create import create_study
from sandwich.errors import AssistanceUnavailable
from sandwich.service import StudyService
from sandwich.studyfile import load_study
from sandwich.views import ItemContent

REPO = Path(__file__).resolve().parent.parent
KINDS = ["explanation", "decomposition", "critique", "consultancy", "debate"]
STUDY = """study: mc-assist
question: Does the model's help help readers?
task:
  kind: multiple-choice
  source: data.jsonl
  columns: {id: id, question: question, choices: choices, answer: answer, passage: passage}
  split: {train: 0.5, seed: 1}
gold: {kind: dataset-label}
assistant: {backend: embedded, max_tokens: 16}
conditions:
  - {name: unassisted}
  - name: helped
    assistance: [explanation, {decomposition: {max_subquestions: 2}}, {critique: {max_flaws: 2}},
                 {consultancy: {rounds: 1, word_limit: 12}}, {debate: {rounds: 1, word_limit: 12}}]
overseers:
  non_experts: [ana, ben]
  items_per_overseer: 4
judgment: {choices: item, confidence: [50, 75, 100]}
"""


def _make_study(folder: Path, rows: int = 4, assistant: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = (REPO / "studies" / "data" / "reading-mc.jsonl").read_text().splitlines()[:rows]
    (folder / "data.jsonl").write_text("\n".join(lines) + "\n")
    text = STUDY if assistant is None else STUDY.replace("assistant: {backend: embedded, max_tokens: 16}", assistant)
    (folder / "mc.yaml").write_text(text)
    db = folder / "mc.duckdb"
    create_study(load_study(folder / "mc.yaml"), db)
    return db


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small study whose assistance was precomputed through the CLI on the embedded model."""
    db = _make_study(tmp_path_factory.mktemp("assist"))
    result = CliRunner().invoke(app, ["assist", "precompute", str(db), "--batch-size", "8"])
    assert result.exit_code == 0, result.output
    assert "20 generated" in result.output
    return db


# ------------------------------------------------------------------ stored output
def _check_content(kind: str, c: dict) -> None:
    if kind == "explanation":
        assert isinstance(c["text"], str) and c["text"].strip()
    elif kind == "decomposition":
        assert c["nodes"] and all({"id", "question", "answer", "children"} <= set(n) for n in c["nodes"])
    elif kind == "critique":
        assert all(set(f) == {"where", "what", "why"} for f in c["flaws"])
    elif kind == "consultancy":
        assert c["assigned_answer"] and [t["speaker"] for t in c["turns"]] == ["consultant"]
        assert all(len(t["text"].split()) <= 13 for t in c["turns"])  # word limit (+ the ellipsis)
    elif kind == "debate":
        assert set(c["answers"]) == {"A", "B"} and c["answers"]["A"] != c["answers"]["B"]
        assert [(t["round"], t["speaker"]) for t in c["turns"]] == [(1, "A"), (1, "B")]
        assert all(isinstance(q["verified"], bool) for t in c["turns"] for q in t["quotes"])


def test_precompute_stores_every_kind_with_its_record(filled: Path) -> None:
    with StudyService(filled) as svc:
        rows = sql(svc, "SELECT * FROM assistance ORDER BY item_id, kind")
        pairs = needed(svc)
        gold = svc.gold()
    assert {(r["item_id"], r["condition"], r["kind"]) for r in rows} == {(i, c, k) for i, c in pairs for k in KINDS}
    for r in rows:
        assert r["status"] in ("ok", "unparsed"), r
        assert r["backend"] == "embedded" and r["model"] == "smollm2-135m-instruct"
        assert r["tokens_in"] > 0 and r["tokens_out"] > 0 and r["latency_s"] > 0 and r["seed"] == 0
        calls = json.loads(r["prompt"])
        assert calls and all(m[-1]["role"] == "user" for m in calls)
        params = json.loads(r["params"])
        assert params["sampling"]["temperature"] == 0.0
        if r["status"] == "ok":
            _check_content(r["kind"], json.loads(r["content"]))
        else:
            assert r["content"] is None and r["raw"] is not None
    consults = [r for r in rows if r["kind"] == "consultancy"]
    flags = [json.loads(r["params"])["assigned_is_correct"] for r in consults]
    assert sorted(flags) == [False, False, True, True]  # balanced right/wrong across items
    for r, flag in zip(consults, flags, strict=True):
        side = json.loads(r["params"])["sides"][0]
        assert (side == gold[r["item_id"]]) == flag
        assert "assigned_is_correct" not in (r["content"] or "")  # analysis-only, never shown
    debaters = [json.loads(r["params"])["correct_debater"] for r in rows if r["kind"] == "debate"]
    assert sorted(debaters) == ["A", "A", "B", "B"]


def test_overseers_in_a_condition_see_the_same_stored_help(filled: Path) -> None:
    with StudyService(filled) as svc:
        seen: dict[str, list] = {}
        for name in ("ana", "ben"):
            s = svc.for_overseer(name)
            for a in sql(
                svc,
                "SELECT assignment_id, item_id FROM assignments WHERE overseer = ? AND condition = 'helped'",
                [name],
            ):
                views = s.assistance(a["assignment_id"])
                assert [v.kind for v in views] == KINDS and all(v.status != "missing" for v in views)
                seen.setdefault(a["item_id"], []).append([v.model_dump() for v in views])
    for views in seen.values():
        assert all(v == views[0] for v in views)


def test_resume_skips_done_rows_and_retry_failed_redoes_them(filled: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(filled, db)
    with StudyService(db) as svc:
        report = precompute(svc)
        assert report.generated == 0 and report.skipped == 20
        sql(svc, "DELETE FROM assistance WHERE kind = 'explanation' AND item_id = 'mc-r00'")
        sql(
            svc,
            "UPDATE assistance SET status = 'failed', content = NULL WHERE kind = 'critique' AND item_id = 'mc-r01'",
        )
        report = precompute(svc)  # only the missing row; the failed one stays failed
        assert (report.generated, report.skipped) == (1, 19)
        jobs, _ = plan(svc, retry_failed=True)  # the failed row, and any row cut off at the token limit
        cut = {(r.item_id, r.kind) for r in svc.store.assistance() if r.params.get("truncated")}
        assert sorted((j.item.item_id, j.kind) for j in jobs) == sorted({("mc-r01", "critique")} | cut)
        report = precompute(svc, retry_failed=True)
        assert report.generated == len(jobs)
        assert sql(svc, "SELECT status FROM assistance WHERE kind = 'critique' AND item_id = 'mc-r01'")[0][
            "status"
        ] in ("ok", "unparsed")
        assert sql(svc, "SELECT count(*) AS n FROM assistance")[0]["n"] == 20


def test_follow_up_streams_through_the_service_and_is_logged(filled: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(filled, db)
    with StudyService(db) as svc:
        a = sql(
            svc,
            "SELECT assignment_id FROM assignments WHERE overseer = 'ana' AND condition = 'helped' "
            "ORDER BY position LIMIT 1",
        )[0]["assignment_id"]
        session = svc.for_overseer("ana")
        nodes = [v for v in session.assistance(a) if v.kind == "decomposition" and v.status == "ok"]
        node = nodes[0].content["nodes"][0]["id"] if nodes else None
        pieces = list(session.follow_up(a, "What does the first sentence of the passage say?", node))
        assert len(pieces) >= 2 and "".join(pieces).strip()
        logged = sql(svc, "SELECT event, payload FROM interactions WHERE assignment_id = ? ORDER BY ts", [a])
        answered = [json.loads(r["payload"]) for r in logged if r["event"] == "followup_answered"]
        assert answered and answered[0]["node_id"] == node
        # what the overseer read is logged; an answer cut at the token limit keeps the model's text apart
        shown = "".join(pieces)
        if answered[0].get("truncated"):
            assert answered[0]["shown"] == shown and shown.startswith(answered[0]["answer"])
            assert shown.endswith("(cut off at the token limit)") and answered[0]["finish_reason"] == "length"
        else:
            assert answered[0]["answer"] == shown


# ------------------------------------------------------------------ backend down
def test_backend_down_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed as soon as we leave: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    db = _make_study(tmp_path, assistant=f"assistant: {{backend: vllm, url: '{url}', timeout_s: 5}}")
    with StudyService(db) as svc:
        a = sql(svc, "SELECT assignment_id FROM assignments WHERE condition = 'helped' LIMIT 1")[0]
        session = svc.for_overseer(
            sql(svc, "SELECT overseer FROM assignments WHERE assignment_id = ?", [a["assignment_id"]])[0]["overseer"]
        )
        with pytest.raises(AssistanceUnavailable) as err:
            list(session.follow_up(a["assignment_id"], "What is this about?"))
        assert url in str(err.value) and "sandwich serve-model" in str(err.value)
        failed = sql(svc, "SELECT count(*) AS n FROM interactions WHERE event = 'followup_failed'")[0]["n"]
        assert failed == 1
    result = CliRunner().invoke(app, ["assist", "precompute", str(db)])
    assert result.exit_code != 0 and isinstance(result.exception, AssistanceUnavailable)
    assert url in str(result.exception)


# ------------------------------------------------------------------ blinding
class ScriptedBackend:
    """Answers every call with the same text: drives strategies through all their steps without a model."""

    name, model = "scripted", "none"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def generate(self, batch: Sequence[Messages], **kw: object) -> list[Generation]:
        self.prompts += ["\n".join(m["content"] for m in msgs) for msgs in batch]
        return [Generation(self.reply, self.name, self.model, list(m)) for m in batch]

    def stream(self, messages: Messages, **kw: object) -> Iterator[str]:
        yield self.reply


REPLY = "1. Is the loop right?\n2. Does it return early?\n1. Where: line 1\n   What: off by one\n   Why: misses one"


def _all_prompts(db: Path) -> dict[tuple[str, str], str]:
    """Every prompt every strategy would send, per (item, kind), with the sides precompute assigns."""
    with StudyService(db) as svc:
        jobs, _ = plan(svc)
    out: dict[tuple[str, str], str] = {}
    for j in jobs:
        b = ScriptedBackend(REPLY)
        run_strategies(b, [steps_for(j.kind, j.item, {**j.params, "rounds": 2}, sides=j.sides)])
        out[(j.item.item_id, j.kind)] = out.get((j.item.item_id, j.kind), "") + "\n".join(b.prompts)
    return out


def test_prompts_for_both_example_studies_carry_no_gold_or_hidden_tests(tmp_path: Path) -> None:
    he = tmp_path / "he"
    he.mkdir()
    shutil.copy(REPO / "studies" / "humaneval-review.yaml", he / "study.yaml")
    shutil.copytree(REPO / "studies" / "data", tmp_path / "data")
    shutil.copy(REPO / "studies" / "reading-mc.yaml", tmp_path / "reading-mc.yaml")
    checked = 0
    for yaml in (he / "study.yaml", tmp_path / "reading-mc.yaml"):
        db = yaml.with_suffix(".duckdb")
        try:
            create_study(load_study(yaml), db)
        except Exception as e:  # noqa: BLE001 - only the sandbox may be missing; say so
            if "sandbox" in str(e).lower() or "bubblewrap" in str(e).lower():
                pytest.skip(f"code-review study needs the sandbox: {e}")
            raise
        with StudyService(db) as svc:
            gold = {r["item_id"]: r for r in sql(svc, "SELECT * FROM gold")}
            tests = [r["test"] for r in sql(svc, "SELECT test FROM hidden_tests")]
        before = _all_prompts(db)
        for (item_id, _kind), text in before.items():
            assert "canonical" not in text.lower() and "mutant" not in text.lower()
            for t in tests:  # no line of any hidden test (asserts, check function)
                for line in t.splitlines():
                    if "assert" in line or "def check" in line:
                        assert line.strip() not in text
            detail = json.loads(gold[item_id]["detail"] or "{}")
            for key in ("stderr_tail", "operator", "site", "detail"):
                if isinstance(detail.get(key), str) and len(detail[key]) > 6:
                    assert detail[key] not in text
            checked += 1
        # flip every gold label: prompts that take no assigned side must not change at all
        with StudyService(db) as svc:
            sql(svc, "UPDATE gold SET label = '__flipped__', detail = NULL")
        after = _all_prompts(db)
        for key, text in before.items():
            if key[1] not in ("consultancy", "debate"):
                assert after[key] == text, key
    assert checked > 50


def test_strategies_cannot_receive_gold() -> None:
    for fn in (explain.explanation, decompose.decomposition, critique.critique, consult.consultancy, debate.debate):
        sig = inspect.signature(fn)
        first = next(iter(sig.parameters.values()))
        assert first.annotation in (ItemContent, "ItemContent")
        assert not {"gold", "label", "truth", "correct", "hidden_tests"} & set(sig.parameters)
    assert "gold" not in ItemContent.model_fields and "label" not in ItemContent.model_fields


# ------------------------------------------------------------------ ragged output
ITEM = ItemContent(
    item_id="x",
    task_kind="multiple-choice",
    title="x",
    body="The river rose 3 feet after the storm.",
    question="How far did the river rise?",
    choices=["1 foot", "3 feet"],
)
CODE = ItemContent(
    item_id="y",
    task_kind="code-review",
    title="y",
    body="def f(x):\n    return x + 1\n",
    question="Is this solution correct?",
    choices=["correct", "buggy"],
    language="python",
)


@pytest.mark.parametrize("reply", ["", "   ", "}}}{{", "...", "1.", "Where:", "<quote>", "\x00\x01", "42"])
@pytest.mark.parametrize("kind", KINDS)
def test_malformed_replies_become_unparsed_with_raw_text(kind: str, reply: str) -> None:
    sides = ("A",) if kind == "consultancy" else ("A", "B")
    [out] = run_strategies(ScriptedBackend(reply), [steps_for(kind, ITEM, {}, sides=sides)])
    assert out.status == "unparsed" and out.content is None and out.raw is not None


def test_ragged_but_readable_replies_are_parsed() -> None:
    assert questions("Sure! Here are some:\n1) Question: Why is x?  Because.\n2. what about y?\nA. foo", 3) == [
        "Why is x?",
        "what about y?",
    ]
    assert questions("Is the loop right? Is the base case right?", 1) == ["Is the loop right?"]
    assert flaws("**1. Where:** `x + 1`\n**What:** adds one\nWhy: the spec says two\n2. Where: end", 3) == [
        {"where": "`x + 1`", "what": "adds one", "why": "the spec says two"}
    ]
    assert flaws("1. The loop skips the last item because it stops early", 3)[0]["why"] == "it stops early"
    assert flaws("There are no flaws in this code.", 3) == []
    assert flaws("1. Where: the part it is in\n   What: the flaw\n   Why: why it matters", 3) is None
    assert truncate_words("one two <quote>three four five", 3) == ("one two <quote>three</quote> …", True)
    assert quotes("see <quote>The river  ROSE 3 feet</quote> and <quote>it snowed", ITEM.body) == [
        {"text": "The river  ROSE 3 feet", "verified": True},
        {"text": "it snowed", "verified": False},
    ]
    [out] = run_strategies(
        ScriptedBackend("It is <quote>return x + 1</quote> and <quote>x * 2</quote>. " * 20),
        [steps_for("debate", CODE, {"word_limit": 10, "rounds": 2}, sides=("correct", "buggy"))],
    )
    assert out.status == "ok" and len(out.content["turns"]) == 4
    assert out.content["turns"][0]["quotes"] == [
        {"text": "return x + 1", "verified": True},
        {"text": "x * 2", "verified": False},
    ]
    assert all(len(t["text"].split()) <= 11 for t in out.content["turns"])
