"""`coach eval`: run the suites, compare with the pins, write the reports.

Suites:

- ``grader-checks``: every grader dataset, deterministic checks only.
- ``grader-llm``: the cases listed in ``evals/suites.yaml``, through the full
  hybrid grader: replayed from recordings by default (offline, reproducible),
  or against the configured backend with ``--live`` / ``--record``.
- ``personas-offline``: every persona against the scripted good and bad
  trainee, with the scripted customer and the checks-only grader.
- ``personas-llm``: the personas listed in ``evals/suites.yaml`` with the LLM
  customer and grader (replayed, live or recorded like ``grader-llm``).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot import __version__, prompts
from bot.backends import backend_kind, structured_method
from bot.cases import Case, load_cases
from bot.errors import EvalError
from bot.evals.grader_suite import CaseResult, adversarial_failures, grade_cases, grader_metrics
from bot.evals.modes import SUITES, Mode
from bot.evals.persona_suite import (
    MOOD_KINDS,
    OFFLINE_KINDS,
    ScriptKind,
    load_scripts,
    persona_metrics,
    run_personas,
)
from bot.evals.pinning import (
    Baseline,
    GraderThresholds,
    PersonaThresholds,
    check_grader,
    check_personas,
    load_thresholds,
    save_baseline,
)
from bot.evals.tags import tag_figures
from bot.grader import Grader
from bot.personas import PersonaCatalog, load_catalog
from bot.recordings import RecordingCache
from bot.rubric import CHECK_CRITERIA, CRITERION_IDS
from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage import Store

#: Eval runs always use this seed (not COACH_SEED): what a run picks among
#: authored lines must not depend on who runs it.
EVAL_SEED = 1

#: The settings a recording depends on; saved beside the recordings.
PROFILE_FIELDS = (
    "persona_model",
    "grader_model",
    "persona_temperature",
    "grader_temperature",
    "persona_max_tokens",
    "grader_max_tokens",
    "grader_attempts",
    "history_token_budget",
    "structured_output",
)


class LLMSuiteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recordings: str
    cases: list[str] = Field(default_factory=list)
    personas: list[str] = Field(default_factory=list)


class SuitesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasets: list[str]
    llm: LLMSuiteConfig


@dataclass
class EvalOptions:
    suites: Sequence[str] = SUITES
    datasets: Sequence[Path] = ()
    mode: Mode = "replay"
    repeat: int = 1
    concurrency: int = 4
    report_dir: Path | None = None
    formats: Sequence[str] = ("json", "md", "html", "junit")
    accept: bool = False
    #: With ``datasets``: the overall accuracy each language must reach.
    min_accuracy: float = 0.0
    #: With ``datasets``: the accuracy each criterion labelled in them must reach.
    min_criterion_accuracy: float = 0.0


@dataclass
class EvalRun:
    report: dict[str, Any]
    written: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.report["passed"])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


class Evaluator:
    def __init__(
        self,
        settings: Settings,
        options: EvalOptions,
        progress: Callable[[str, int], Callable[[], None]] | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.evals_dir = settings.evals_dir
        self.catalog: PersonaCatalog = load_catalog(settings.personas_dir)
        if self.catalog.errors:
            raise EvalError(f"persona files have errors: {self.catalog.errors[0]}")
        self._progress = progress or (lambda label, total: lambda: None)
        self.dataset_hashes: dict[str, str] = {}

    # --- configuration -------------------------------------------------------------

    def suites_config(self) -> SuitesConfig:
        path = self.evals_dir / "suites.yaml"
        try:
            return SuitesConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise EvalError(f"{path}: not found") from None
        except (yaml.YAMLError, ValidationError) as exc:
            raise EvalError(f"{path}: invalid: {str(exc).splitlines()[0]}") from None

    def load_datasets(self, paths: Sequence[Path]) -> list[Case]:
        cases: list[Case] = []
        seen: set[str] = set()
        for path in paths:
            loaded = load_cases(path, self.catalog)
            self.dataset_hashes[path.name] = _sha(path)
            for case in loaded:
                if case.id in seen:
                    raise EvalError(f"{path}: case id '{case.id}' appears in two datasets")
                seen.add(str(case.id))
            cases += loaded
        if not cases:
            raise EvalError("no cases to evaluate")
        return cases

    def recordings_dir(self) -> Path:
        return self.evals_dir / self.suites_config().llm.recordings

    def llm_settings(self) -> Settings:
        """Live/record: the configured backend. Replay: the recorded profile.

        The seed is fixed: the authored lines the engine picks (a closing line,
        a line the character guard puts in place of a model's) enter the next
        prompts, so a replay must pick the same ones as the recording did.
        """
        return self._llm_settings().model_copy(update={"seed": EVAL_SEED})

    def _llm_settings(self) -> Settings:
        if self.options.mode != "replay":
            if backend_kind(self.settings) == "offline":
                raise EvalError(
                    "--live and --record need a model: set OPENAI_API_KEY or OPENAI_BASE_URL"
                )
            if self.options.mode == "fill":
                self.check_profile_matches()
            return self.settings
        path = self.recordings_dir() / "profile.json"
        try:
            profile = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise EvalError(
                f"{path}: no recordings to replay; record some with "
                "coach eval --record against a live backend"
            ) from None
        overrides = {k: profile["settings"][k] for k in PROFILE_FIELDS}
        # Replays never reach the network: every call is answered by a recording
        # or fails as missing, so the URL is a placeholder.
        backend = "openai" if profile["backend"] == "openai" else "compatible"
        return self.settings.model_copy(
            update={
                **overrides,
                "backend": backend,
                "openai_base_url": "http://replay.invalid/v1",
                "openai_api_key": SecretStr("replay"),
            }
        )

    @contextmanager
    def offline_runtime(self) -> Iterator[Runtime]:
        """The scripted customer and the checks-only grader, on a scratch database."""
        settings = self.settings.model_copy(update={"backend": "offline", "seed": EVAL_SEED})
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite+aiosqlite:///{Path(tmp) / 'eval.db'}")
            yield Runtime.create(settings, store=store)

    @contextmanager
    def llm_runtime(self) -> Iterator[Runtime]:
        settings = self.llm_settings()
        cache: RecordingCache | None = None
        if self.options.mode in ("replay", "record", "fill"):
            cache = RecordingCache(self.recordings_dir(), self.options.mode)
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite+aiosqlite:///{Path(tmp) / 'eval.db'}")
            yield Runtime.create(settings, store=store, cache=cache)
        if self.options.mode in ("record", "fill"):
            self.save_profile(settings)

    def check_profile_matches(self) -> None:
        """Filling gaps only makes sense with the settings the rest was recorded with."""
        path = self.recordings_dir() / "profile.json"
        if not path.exists():
            return
        recorded = json.loads(path.read_text(encoding="utf-8"))["settings"]
        differ = [k for k in PROFILE_FIELDS if recorded.get(k) != getattr(self.settings, k)]
        if differ:
            raise EvalError(
                f"--record-missing needs the recorded settings; these differ: "
                f"{', '.join(differ)} (see {path}), or use --record to redo all"
            )

    def save_profile(self, settings: Settings) -> None:
        kind = backend_kind(settings)
        profile = {
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "backend": kind,
            "base_url": settings.openai_base_url,
            "structured_method": structured_method(settings, kind),
            "settings": {k: getattr(settings, k) for k in PROFILE_FIELDS},
            "prompts": prompts.prompt_hashes(),
        }
        path = self.recordings_dir() / "profile.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(profile, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def metadata(self) -> dict[str, Any]:
        root = self.settings.evals_dir.parent
        lexicons = {p.name: _sha(p) for p in sorted(self.settings.lexicon_dir.glob("*.txt"))}
        return {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _git_commit(root),
            "coach_version": __version__,
            "mode": self.options.mode,
            "repeat": self.options.repeat,
            "prompts": prompts.prompt_hashes(),
            "datasets": dict(sorted(self.dataset_hashes.items())),
            "lexicons": lexicons,
            "persona_scripts": _sha(self.evals_dir / "persona_scripts.yaml"),
        }

    # --- suites --------------------------------------------------------------------------

    async def run(self) -> EvalRun:
        options = self.options
        thresholds = (
            None if options.datasets else load_thresholds(self.evals_dir / "thresholds.yaml")
        )
        # Files given on the command line are gated too: the attack rule always,
        # and the accuracies the caller asked for.
        ad_hoc = GraderThresholds(accuracy=options.min_accuracy, adversarial=True)
        suites: dict[str, Any] = {}
        config = None if options.datasets else self.suites_config()
        for suite in options.suites:
            if suite == "grader-checks":
                paths = list(options.datasets) or [self.evals_dir / d for d in config.datasets]  # type: ignore[union-attr]
                cases = self.load_datasets(paths)
                grader = Grader(self.settings, None)
                results = await grade_cases(
                    cases,
                    grader,
                    self.catalog,
                    concurrency=options.concurrency,
                    on_done=self._progress(suite, len(cases)),
                )
                suites[suite] = self.grader_section(
                    suite,
                    "checks",
                    "deterministic checks",
                    results,
                    CHECK_CRITERIA,
                    thresholds.grader_checks
                    if thresholds
                    else self._ad_hoc(ad_hoc, cases, CHECK_CRITERIA),
                )
            elif suite == "grader-llm":
                if options.datasets:
                    cases = self.load_datasets(options.datasets)
                else:
                    assert config is not None
                    paths = [self.evals_dir / d for d in config.datasets]
                    wanted = set(config.llm.cases)
                    cases = [c for c in self.load_datasets(paths) if c.id in wanted]
                    unknown = wanted - {str(c.id) for c in cases}
                    if unknown:
                        listed = ", ".join(sorted(unknown))
                        raise EvalError(f"suites.yaml lists unknown cases: {listed}")
                with self.llm_runtime() as runtime:
                    results = await grade_cases(
                        cases,
                        runtime.grader,
                        self.catalog,
                        repeat=options.repeat,
                        concurrency=options.concurrency,
                        on_done=self._progress(suite, len(cases) * options.repeat),
                    )
                    backend = runtime.backend.describe()
                suites[suite] = self.grader_section(
                    suite,
                    options.mode,
                    backend,
                    results,
                    CRITERION_IDS,
                    thresholds.grader_llm
                    if thresholds
                    else self._ad_hoc(ad_hoc, cases, CRITERION_IDS),
                )
            elif suite in ("personas-offline", "personas-llm"):
                suites[suite] = await self.persona_section(suite, config, thresholds)
            else:  # pragma: no cover - validated by the CLI
                raise EvalError(f"unknown suite {suite}")
        report = {
            "metadata": self.metadata(),
            "passed": all(not s["failures"] for s in suites.values()),
            "suites": suites,
        }
        run = EvalRun(report)
        if options.report_dir is not None:
            from bot.evals.reports import write_reports

            run.written = write_reports(report, options.report_dir, tuple(options.formats))
        return run

    def _ad_hoc(
        self, base: GraderThresholds, cases: Sequence[Case], measured: Sequence[str]
    ) -> GraderThresholds:
        """The gate for case files given on the command line: every criterion
        they label (among those the suite measures) must reach the minimum."""
        minimum = self.options.min_criterion_accuracy
        labelled = sorted({cid for c in cases for cid in c.expect if cid in measured})
        return base.model_copy(
            update={"criteria": {cid: minimum for cid in labelled} if minimum else {}}
        )

    def grader_section(
        self,
        suite: str,
        mode: str,
        backend: str,
        results: list[CaseResult],
        pinned: Sequence[str],
        limits: GraderThresholds | None,
    ) -> dict[str, Any]:
        metrics = grader_metrics(results, pinned)
        by_tag = tag_figures(results, pinned)
        adversarial = adversarial_failures(results)
        failures = check_grader(metrics, limits, adversarial) if limits else []
        flips: list[dict[str, Any]] = []
        baseline_path = self.evals_dir / "accepted" / f"{suite}.json"
        # Only the pinned datasets have an accepted baseline to compare with.
        if limits is not None and not self.options.datasets:
            baseline = Baseline.load(baseline_path)
            if baseline is not None:
                found = baseline.flips(results)
                flips = [{**f.__dict__, "worse": f.worse} for f in found]
                worse = [f for f in found if f.worse]
                # Live models are not deterministic: their flips are shown, not fatal.
                # --accept is the decision to take these flips as the new baseline.
                if worse and mode != "live" and not self.options.accept:
                    failures.append(
                        f"{len(worse)} verdicts that were right in the accepted run "
                        "are now wrong: " + ", ".join(f"{f.case} {f.criterion}" for f in worse[:10])
                    )
            if self.options.accept and not failures:
                save_baseline(baseline_path, results, {"mode": mode, "backend": backend})
        checks = [
            f"{lang} {cid}" for lang in ("fr", "en") for cid in (limits.criteria if limits else {})
        ]
        return {
            "kind": "grader",
            "mode": mode,
            "backend": backend,
            "pinned": limits is not None and not self.options.datasets,
            "metrics": metrics,
            "adversarial": adversarial,
            "by_tag": by_tag,
            "failures": failures,
            "flips": flips,
            "checks": checks,
            "cases": [
                {
                    "id": r.case.id,
                    "language": r.case.language,
                    "score": r.grade.score,
                    "mode": r.grade.mode,
                    "flip_rate": r.flip_rate,
                    "wrong": [
                        {
                            "criterion": c,
                            "expected": r.case.expect[c],
                            "predicted": r.predicted(c),
                            "evidence": r.grade.criteria[c].evidence,
                        }
                        for c in r.wrong
                    ],
                }
                for r in results
            ],
        }

    async def persona_section(
        self, suite: str, config: SuitesConfig | None, thresholds: Any
    ) -> dict[str, Any]:
        scripts = load_scripts(self.evals_dir / "persona_scripts.yaml")
        personas = sorted(self.catalog.personas.values(), key=lambda p: p.id)
        if suite == "personas-llm":
            assert config is not None
            personas = [self.catalog.get(pid) for pid in config.llm.personas]
        offline = suite == "personas-offline"
        kinds: tuple[ScriptKind, ...] = OFFLINE_KINDS if offline else MOOD_KINDS
        progress = self._progress(suite, len(personas) * len(kinds))
        with self.offline_runtime() if offline else self.llm_runtime() as runtime:
            await runtime.store.init()
            try:
                runs = await run_personas(
                    personas,
                    runtime.engine,
                    scripts,
                    self.settings.lexicon_dir,
                    concurrency=self.options.concurrency,
                    on_done=progress,
                    kinds=kinds,
                )
            finally:
                await runtime.store.close()
            backend = runtime.backend.describe()
        mode = "offline" if offline else self.options.mode
        metrics = persona_metrics(runs)
        limits: PersonaThresholds | None = (
            thresholds.for_suite(suite) if thresholds is not None else None
        )
        failures = check_personas(metrics, limits) if limits else []
        return {
            "kind": "personas",
            "mode": mode,
            "backend": backend,
            "pinned": limits is not None and not self.options.datasets,
            "metrics": metrics,
            "failures": failures,
            "runs": [r.as_dict() for r in runs],
        }
