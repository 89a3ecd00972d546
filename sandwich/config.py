"""The study file schema (pydantic v2): the contract every other part reads.

A study names its task and gold, the assistant that helps overseers, the
experimental conditions, who the overseers are and how items are assigned,
the judgment format, pre-registered hypotheses, classifier settings and the
simulated overseers used for pilots. Unknown keys are errors everywhere.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from sandwich import assistance

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

# Names the program itself uses next to condition names; a condition called so would be merged with them.
RESERVED_CONDITION_NAMES: dict[str, str] = {
    "expert": "the analysis's group of expert overseers (and the 'expert' label source and hypothesis keyword)",
    "experts": "the analysis's expert rung",
    "gold": "the analysis's top rung when a study has no expert overseers",
    "model": "the analysis's model-alone rung",
    "default": "the simulated overseers' fallback skill key (simulation.*.skill.default)",
}
# Hypothesis ids `analyze` gives to tests it adds itself: --explore A:B becomes X1, X2, …; an edited one gets a '*'.
RESERVED_HYPOTHESIS_ID = re.compile(r"^X\d+$|\*")


class Strict(BaseModel):
    """Base for every section: unknown keys are errors, values are checked on assignment.

    `.inf` and `.nan` are refused in every number: no setting means anything at infinity or NaN.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _slug(value: str, what: str) -> str:
    if not SLUG.match(value):
        raise ValueError(f"{what} {value!r} must be lower-case letters, digits, '-' or '_'")
    return value


Seed = Annotated[int, Field(ge=0, description="a non-negative integer seed")]


def _server_urls(v: str | list[str]) -> str | list[str]:
    if isinstance(v, list):
        if not v:
            raise ValueError("an empty list: give one server's base URL (…/v1) or a list of them")
        bad = [u for u in v if not re.match(r"^https?://", u)]
        if bad:
            raise ValueError(f"a server URL starts with http:// or https:// (got {bad[0]!r})")
    return v


# one OpenAI-compatible base URL (…/v1), or a list of them served as a pool (assistants/backends/pool.py)
ServerUrls = Annotated[str | list[str], AfterValidator(_server_urls)]


# --------------------------------------------------------------------- task
class CandidateSpec(Strict):
    """Which candidate solutions become items for each code-review problem."""

    canonical: int = Field(1, ge=0, le=1, description="include the reference solution (0 or 1)")
    mutants: int = Field(2, ge=0, le=10, description="AST mutants per problem")
    seed: Seed = 0
    operators: list[str] | None = Field(None, description="mutation operators to use (default: all)")

    @model_validator(mode="after")
    def _some(self) -> CandidateSpec:
        if self.canonical + self.mutants == 0:
            raise ValueError("candidates: at least one of canonical/mutants must be > 0")
        return self


class SplitSpec(Strict):
    """Train/test split: classifiers learn on train items and are scored on held-out test items."""

    train: float = Field(0.7, gt=0.0, lt=1.0)
    seed: Seed = 0
    by: Literal["problem", "item"] = Field(
        "problem", description="split whole problems so candidates of one problem never straddle the split"
    )


class CodeReviewTask(Strict):
    """Judge whether a candidate solution to a programming problem is correct or buggy."""

    kind: Literal["code-review"]
    source: Literal["humaneval"] = "humaneval"
    problems: int | list[str] | None = Field(
        None, description="how many problems (seeded sample) or a list of task ids; default all"
    )
    candidates: CandidateSpec = CandidateSpec()
    balance: bool = Field(True, description="downsample so correct and buggy items are equally common")
    split: SplitSpec = SplitSpec()

    @field_validator("problems")
    @classmethod
    def _problems(cls, v: int | list[str] | None) -> int | list[str] | None:
        if isinstance(v, int) and v < 1:
            raise ValueError("problems must be at least 1")
        if isinstance(v, list) and len(set(v)) != len(v):
            raise ValueError("problems lists a task id twice")
        return v


class ColumnMap(Strict):
    """Where each field lives in a multiple-choice data file."""

    question: str = "question"
    choices: str | list[str] = Field("choices", description="one list column, or one column per choice")
    answer: str = "answer"
    id: str | None = None
    passage: str | None = None


class MultipleChoiceTask(Strict):
    """Answer a question (optionally about a passage) by picking one of its choices."""

    kind: Literal["multiple-choice"]
    source: str = Field(..., description="a .jsonl/.csv/.parquet path (relative to the study file) or hf:NAME")
    hf_config: str | None = None
    hf_split: str = "test"
    columns: ColumnMap = ColumnMap()
    answer_format: Literal["auto", "index", "letter", "text"] = "auto"
    limit: int | None = Field(None, ge=1)
    seed: Seed = 0
    split: SplitSpec = SplitSpec(by="item")


class RegisteredTask(BaseModel):
    """The `task:` section of a kind registered outside this module (`sandwich.tasks.kind.register`); the
    study validates it against that kind's own `config` model."""

    model_config = ConfigDict(extra="allow")
    kind: str


_BUILT_IN_TASKS = {get_args(m.model_fields["kind"].annotation)[0]: m for m in (CodeReviewTask, MultipleChoiceTask)}


def _task_tag(v: Any) -> str | None:
    """The union member for a `task:` section: a built-in kind's own model, else a registered kind's."""
    kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
    if kind is None or kind in _BUILT_IN_TASKS:
        return kind
    from sandwich.tasks import kind as task_kinds

    return "registered" if task_kinds.find(kind) is not None else kind


Task = Annotated[
    Annotated[CodeReviewTask, Tag("code-review")]
    | Annotated[MultipleChoiceTask, Tag("multiple-choice")]
    | Annotated[RegisteredTask, Tag("registered")],
    Discriminator(_task_tag),
]


class GoldSpec(Strict):
    """How the ground truth is known."""

    kind: Literal["execution", "dataset-label", "expert-overseers"]
    timeout_s: float = Field(5.0, gt=0, le=120)
    memory_mb: int = Field(512, ge=64, le=8192)


# ---------------------------------------------------------------- assistant
class AssistantSpec(Strict):
    """The model that helps overseers; embedded runs in-process and needs no server."""

    backend: Literal["embedded", "vllm", "vllm-offline", "scripted"] = Field(
        "embedded", description="scripted: deterministic canned replies, for tests and demos (no model)"
    )
    model: str = "smollm2-135m-instruct"
    url: ServerUrls | None = Field(
        None,
        description="OpenAI-compatible base URL of a running vLLM server (…/v1), "
        "or a list of them: requests are spread over the list",
    )
    api_key_env: str | None = Field(None, description="environment variable holding the server's API key")
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(256, ge=1, le=8192)
    seed: Seed = 0
    timeout_s: float = Field(60.0, gt=0, le=3600)
    concurrency: int = Field(16, ge=1, le=1024)

    @model_validator(mode="after")
    def _url(self) -> AssistantSpec:
        if self.url is not None and self.backend != "vllm":
            raise ValueError("url is only used with backend: vllm")
        return self


class AssistanceSpec(Strict):
    """One kind of help a condition gives, with its parameters."""

    kind: str
    params: dict[str, Any] = {}


def _parse_assistance(entry: Any) -> AssistanceSpec:
    """Accept `explanation` or `{debate: {rounds: 2}}`."""
    if isinstance(entry, AssistanceSpec):
        return entry
    params: Any
    if isinstance(entry, str):
        kind, params = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        kind, params = next(iter(entry.items()))
        params = params or {}
        if not isinstance(params, dict):
            raise ValueError(f"parameters of {kind!r} must be a mapping, got {type(params).__name__}")
    else:
        raise ValueError("each assistance entry is a name or a one-key mapping like {debate: {rounds: 2}}")
    assistance.check_params(str(kind), params)  # the kinds and their parameters are declared in the registry
    return AssistanceSpec(kind=kind, params=params)


class Condition(Strict):
    """An experimental condition: the assistance overseers get while judging."""

    name: str
    assistance: list[AssistanceSpec] = []
    briefing: str | None = Field(None, description="extra text shown on the condition's briefing screen")
    live_followups: bool = Field(True, description="overseers may ask the model their own follow-up questions")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        _slug(v, "condition name")
        if v in RESERVED_CONDITION_NAMES:
            raise ValueError(f"{v!r} is reserved: it is {RESERVED_CONDITION_NAMES[v]}; give the condition another name")
        return v

    @field_validator("assistance", mode="before")
    @classmethod
    def _assistance(cls, v: Any) -> list[AssistanceSpec]:
        if v is None:
            return []
        if not isinstance(v, list):
            v = [v]
        specs = [_parse_assistance(e) for e in v]
        kinds = [s.kind for s in specs]
        if len(set(kinds)) != len(kinds):
            raise ValueError("the same assistance is listed twice")
        return specs

    @property
    def kinds(self) -> list[str]:
        """Assistance kinds in this condition, in the study's order."""
        return [a.kind for a in self.assistance]


# ---------------------------------------------------------------- overseers
class ObservedColumns(Strict):
    """Observed design: where each field lives in a judgments file (`sandwich import judgments`)."""

    overseer: str = "overseer"
    item: str = Field("item", description="the item's id (or, for multiple choice, the data file's id)")
    condition: str = "condition"
    choice: str = Field("choice", description="a choice letter, or the text of a choice")
    confidence: str | None = Field(None, description="percent (0-100) that the chosen answer is right")
    probability: str | None = Field(None, description="probability (0-1) that the chosen answer is right")
    time: str | None = Field(None, description="seconds on the item")
    rationale: str | None = None
    gold: str | None = Field(None, description="checked against the task's gold; a disagreement is refused")
    choice_order: str | None = Field(None, description="the order the overseer saw the choices in (kept as is)")

    @model_validator(mode="after")
    def _one_confidence(self) -> ObservedColumns:
        if self.confidence and self.probability:
            raise ValueError("columns: give confidence (percent) or probability (0-1), not both")
        return self


class OverseerSpec(Strict):
    """Who judges, and how items and conditions are spread over them."""

    design: Literal["within-subjects", "between-subjects", "observed"] = Field(
        "within-subjects", description="observed: assignments come from imported data, not a dealt plan"
    )
    # names are checked below: an observed design keeps the data's names as written
    non_experts: list[str] = Field(default_factory=list)
    experts: list[str] = []
    expert_condition: str | None = Field(None, description="condition experts judge under (default: first unassisted)")
    items_per_overseer: int | None = Field(None, ge=1, description="required unless design is observed")
    judge_split: Literal["all", "train"] = "all"
    judged_items: int | None = Field(
        None, ge=1, description="judge only this many items (a seeded sample, balanced by gold label); default all"
    )
    practice_items: int = Field(0, ge=0, le=10, description="practice items with feedback before each condition")
    versions_per_problem: int = Field(
        1, ge=1, description="most versions (candidates) of one problem an overseer meets; never two in one part"
    )
    seed: Seed = 0
    columns: ObservedColumns | None = Field(None, description="observed design: columns of the judgments file")

    @model_validator(mode="after")
    def _names(self) -> OverseerSpec:
        if self.design == "observed":  # names come from the data and are kept as written
            return self
        if self.columns is not None:
            raise ValueError("columns: only an observed design reads a judgments file")
        if not self.non_experts:
            raise ValueError(
                "non_experts: name at least one overseer (only an observed design takes them from the data)"
            )
        if self.items_per_overseer is None:
            raise ValueError("items_per_overseer: required field is missing")
        for field_name in ("non_experts", "experts"):
            for i, n in enumerate(getattr(self, field_name)):
                try:
                    _slug(n, "overseer name")
                except ValueError as e:
                    raise ValueError(f"{field_name}[{i}]: {e}") from None
        return self


class JudgmentSpec(Strict):
    """What an overseer answers, and how long they may take."""

    choices: list[str] | Literal["item"] | None = Field(
        None, description="code-review: [correct, buggy]; multiple-choice: 'item' (the item's own choices)"
    )
    confidence: list[int] = [50, 60, 70, 80, 90, 100]
    time_limit_s: int | None = Field(300, ge=10, le=86400)
    warn_before_s: int = Field(60, ge=0)
    on_timeout: Literal["force", "skip"] = "force"
    rationale: Literal["optional", "required", "off"] = "optional"

    @field_validator("confidence")
    @classmethod
    def _confidence(cls, v: list[int]) -> list[int]:
        if len(v) < 2 or v != sorted(set(v)) or v[0] < 0 or v[-1] > 100:
            raise ValueError("confidence must be at least two increasing percentages between 0 and 100")
        return v


# ------------------------------------------------------- analysis & training
METRICS = ("accuracy", "brier", "ece", "time", "gap_closed")


class Hypothesis(Strict):
    """A pre-registered comparison between two conditions (or a condition and 'expert')."""

    id: str
    compare: list[str] = Field(..., min_length=2, max_length=2)
    metric: Literal["accuracy", "brier", "ece", "time", "gap_closed"] = "accuracy"
    alternative: Literal["greater", "less", "two-sided"] = "greater"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    test: Literal["bootstrap", "permutation"] = "permutation"

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a hypothesis needs a non-empty id")
        return v  # ids `analyze` gives its own tests (X1, H1*) are refused in study files by study_checks


# judgment sources `analyze --source` keeps apart (sandwich/analysis/sources.py)
JUDGMENT_SOURCES = ("human", "llm", "parametric")
# multiplicity corrections over the confirmatory family (statsmodels.stats.multitest.multipletests methods)
MULTIPLICITY = ("none", "holm", "bonferroni")
# analyze's defaults, frozen with the plan so a later run with other settings is seen as a deviation
DEFAULT_REPLICATES = 2000
DEFAULT_PERMUTATIONS = 2000


class Preregistration(Strict):
    """The analysis plan frozen (hashed, timestamped) at the first judgment: hypotheses and how they are tested."""

    hypotheses: list[Hypothesis] = []
    notes: str | None = None
    sources: list[Literal["human", "llm", "parametric"]] | None = Field(
        None,
        min_length=1,
        description="judgment sources the confirmatory analysis counts (not given: people when there are any, "
        "else the first simulated kind)",
    )
    multiplicity: Literal["none", "holm", "bonferroni"] = Field(
        "none", description="correction of the confirmatory hypotheses' p-values for testing several"
    )
    replicates: int = Field(DEFAULT_REPLICATES, ge=50, le=1_000_000, description="bootstrap replicates")
    permutations: int = Field(DEFAULT_PERMUTATIONS, ge=50, le=1_000_000, description="permutations per test")

    @field_validator("sources")
    @classmethod
    def _distinct_sources(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("each source once")
        return v


class ClassifierSpec(Strict):
    """Reward-model classifiers trained on each label source's judgments."""

    backbone: Literal["minilm", "minilm-finetune", "lm-reward"] = "minilm"
    train_on: list[str] = Field(default_factory=lambda: ["expert"])
    seeds: list[Seed] = Field([0, 1, 2], min_length=1)
    epochs: int = Field(20, ge=1, le=10_000)
    learning_rate: float = Field(1e-3, gt=0, le=10)
    batch_size: int = Field(16, ge=1)
    soft_labels: bool = Field(False, description="use confidences as soft targets")
    aux_confidence_loss: bool = Field(False, description="weak-to-strong auxiliary confidence loss")


class SimulatedOverseer(Strict):
    """How a simulated overseer judges: an LLM playing the overseer, or a parametric profile."""

    kind: Literal["llm", "parametric"] = "parametric"
    backend: Literal["embedded", "vllm", "scripted"] | None = None
    model: str | None = None
    url: ServerUrls | None = None
    skill: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, description="P(correct) per condition name or 'default'"
    )
    noise: float = Field(0.05, ge=0, le=1, description="spread of skill between overseers")
    bias: float = Field(0.0, ge=-1, le=1, description="tilt towards the first choice")
    seconds_per_item: float = Field(60.0, gt=0, le=86400)


class SimulationSpec(Strict):
    """Simulated overseers for pilots, tests and power analysis (always labelled synthetic)."""

    non_expert: SimulatedOverseer = SimulatedOverseer()
    expert: SimulatedOverseer = SimulatedOverseer(skill={"default": 0.95})
    seed: int = 0


# -------------------------------------------------------------------- study
def _loc_text(loc: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if n else p) for n, p in enumerate(loc))


class Study(Strict):
    """A whole study file."""

    study: str
    question: str
    description: str | None = None
    task: Task
    gold: GoldSpec
    assistant: AssistantSpec = AssistantSpec()
    conditions: list[Condition] = Field(..., min_length=1)
    overseers: OverseerSpec
    judgment: JudgmentSpec = JudgmentSpec()
    preregistration: Preregistration = Preregistration()
    classifiers: ClassifierSpec = ClassifierSpec()
    simulation: SimulationSpec = SimulationSpec()
    seed: Seed = 0

    _study = field_validator("study")(lambda v: _slug(v, "study name"))

    @field_validator("task", mode="after")
    @classmethod
    def _registered_task(cls, v: Any) -> Any:
        if not isinstance(v, RegisteredTask):
            return v
        from sandwich.tasks import kind as task_kinds

        try:
            return task_kinds.get(v.kind).config.model_validate(v.model_dump())
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"task.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    @field_serializer("task", mode="wrap")
    def _dump_task(self, v: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        # a registered kind's section is validated into that kind's own model (not RegisteredTask): dump it as such
        if isinstance(v, BaseModel) and type(v) not in (*_BUILT_IN_TASKS.values(), RegisteredTask):
            return v.model_dump(mode=info.mode, by_alias=bool(info.by_alias), exclude_none=info.exclude_none)
        return handler(v)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Study:
        if self.judgment.choices is None:
            from sandwich.tasks import kind as task_kinds

            self.judgment.choices = task_kinds.get(self.task.kind).wanted_choices(self.task)  # type: ignore[assignment]  # a kind's default is a list or 'item'
        if (info.context or {}).get("collect_problems"):
            return self  # the study-file reader runs the checks itself, to place each problem at its value
        from sandwich.study_checks import cross_field_problems

        problems = cross_field_problems({name: getattr(self, name) for name in type(self).model_fields})
        if problems:
            raise ValueError("; ".join(f"{_loc_text(loc)}: {msg}" for loc, msg in problems))
        return self

    @model_validator(mode="after")
    def _enough_problems(self, info: ValidationInfo) -> Study:
        if (info.context or {}).get("collect_problems"):
            return self  # the study-file reader places this problem at its line (study_checks)
        # the design rules live with check-design
        from sandwich.design_check import problem_shortfall

        if (problem := problem_shortfall(self)) is not None:
            raise ValueError(problem)
        return self

    def condition(self, name: str) -> Condition:
        """The condition called `name`."""
        for c in self.conditions:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def expert_condition(self) -> str:
        """The condition experts judge under: the one named, else the first without assistance."""
        if self.overseers.expert_condition:
            return self.overseers.expert_condition
        return next((c.name for c in self.conditions if not c.assistance), self.conditions[0].name)

    @property
    def baseline_condition(self) -> str:
        """The unassisted condition the gap is measured from (first with no assistance).

        An observed study without an unassisted condition has no baseline: the name 'unassisted' is
        returned, which matches no condition, so gap closed is reported as not computable.
        """
        fallback = "unassisted" if self.overseers.design == "observed" else self.conditions[0].name
        return next((c.name for c in self.conditions if not c.assistance), fallback)
