"""``stepstone.transfer``: fine-tune through the leading sources on the user's data and keep the
best model.

Every target fine-tuning (candidate x seed) is one row of ``<work>/runs/transfer.csv``, appended
and fsynced as it finishes (bench's ResultsFile), and the schedule is a pure function of those
rows (schedule.py), so a run killed at any moment resumes without redoing a finished
fine-tuning; source models are kept in ``models_dir``. Each candidate's best-scoring target model
is kept in ``<work>/best/`` (saved before its row is appended), so the chosen one can be handed
over without fine-tuning it again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from .._env import DEFAULT_MODEL, cpu_model, default_hub_path
from .._io import write_json
from ..bench.results import Cell, ResultsFile
from ..bench.transfer import transfer_metric
from ..data.task import TaskData
from ..encode.models import auto_device
from ..errors import DataError, ModelLoadError, TransferError
from ..finetune.model import TunedModel
from ..finetune.train import FineTuneConfig, fine_tune, predict
from ..hub.hub import Hub, slugify
from ..build.source_esm import MINILM_LEARNING_RATE
from .candidates import NO_TRANSFER, SourceRecipe, source_model
from .choose import resolve_candidates, summarise
from .estimate import Estimate, measure_speed
from .model_folder import write_model_folder
from .result import TransferResult
from .schedule import planned_runs, standing
from .target import target_data

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferSettings:
    """What is measured: seeds, sample sizes, the target's fine-tuning recipe.

    The target recipe defaults to the benchmark grids' (3 epochs, batch 32, learning rate 1e-4
    for MiniLM); ``source_examples``/``source_epochs`` make the sources cheaper than their ESM's
    recipe, for a quick look (the source models then differ from the ones the ESMs imitate).
    """

    seeds: tuple[int, ...] = (42, 43, 44)
    num_examples: int | None = None  # target training sample (default: all)
    eval_examples: int | None = 1000
    holdout: float = 0.2
    sample_seed: int = 42
    finetune: FineTuneConfig = field(default_factory=lambda: FineTuneConfig(
        epochs=3, learning_rate=MINILM_LEARNING_RATE))
    source_examples: int | None = None
    source_epochs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples as lists, as on disk


def transfer(target: str | os.PathLike | TaskData, *, sources: Sequence[str] | None = None,
             ranking: str | os.PathLike | None = None, top: int = 3,
             hub: Hub | str | os.PathLike | None = None, work_dir: str | os.PathLike,
             models_dir: str | os.PathLike | None = None,
             output: str | os.PathLike | None = None,
             settings: TransferSettings = TransferSettings(), budget: float | None = None,
             columns: dict[str, Any] | None = None, device: str | None = None,
             show_progress: bool | None = None,
             on_message: Callable[[str], None] | None = None) -> TransferResult:
    """Fine-tune through each candidate source, and without one, on ``target``; keep the best.

    Candidates: ``sources`` (hub ids or dataset names), else the first ``top`` of ``ranking``
    (a JSON file of ``stepstone rank``), else the first ``top`` of a fresh ESM-LogME ranking of
    ``hub``; always plus NO_TRANSFER. Each gets one seed, then successive halving spends the
    remaining seeds on the candidates still in contention until one is clearly ahead, the seeds
    run out or ``budget`` (seconds of wall time) would be exceeded. The chosen candidate's best
    target model is written to ``output`` (default ``<work_dir>/model``) as a Hugging Face model
    folder; ``<work_dir>`` also holds the result rows, report.json and report.html.
    """
    started = time.perf_counter()
    say = on_message or logger.info
    work = Path(work_dir)
    models_dir = Path(models_dir) if models_dir is not None else work / "source-models"
    hub_obj = hub if isinstance(hub, Hub) else Hub(hub if hub is not None else default_hub_path())
    data = target_data(target, columns=columns or {}, num_examples=settings.num_examples,
                       eval_examples=settings.eval_examples, holdout=settings.holdout,
                       seed=settings.sample_seed)
    train, held = data.train, data.held
    evaluation = {k: v for k, v in data.evaluation.items() if not k.endswith("_rows")}
    recipes = resolve_candidates(train, sources=sources, ranking=ranking, top=top, hub=hub_obj,
                                 settings=settings, show_progress=show_progress)
    model_name = hub_base_model(hub_obj, recipes)
    results = ResultsFile(work / "runs")
    _check_work_dir(results, train, recipes, settings, model_name)
    write_json(work / "evaluation.json", data.evaluation)
    scores = _read_scores(results, train.name)
    candidates = [NO_TRANSFER] + [r.name for r in recipes]
    by_name = {r.name: r for r in recipes}
    full = settings.source_examples is None and settings.source_epochs is None
    estimate = _estimate(train, held, recipes, settings, model_name, results, models_dir,
                         full=full, device=device, candidates=len(candidates))
    say(estimate.message(planned_runs(len(candidates), len(settings.seeds)), budget))
    loaded: dict[str, TunedModel] = {}
    failed: dict[str, str] = {}
    stopped = ""
    while True:
        state = standing(scores, [c for c in candidates if c not in failed], settings.seeds,
                         reference=NO_TRANSFER)
        if state.next is None:
            stopped = state.reason
            break
        name, seed = state.next
        need_source = name != NO_TRANSFER and name not in loaded
        elapsed = time.perf_counter() - started
        if budget is not None and elapsed + estimate.next_seconds(need_source) > budget:
            stopped = (f"budget: {elapsed:.0f} s used of {budget:.0f} s, the next fine-tuning "
                       f"would take about {estimate.next_seconds(need_source):.0f} s")
            break
        if need_source:
            try:
                loaded = {name: source_model(by_name[name], models_dir=models_dir, full=full,
                                             device=device, show_progress=show_progress)}
            except (DataError, ModelLoadError) as err:  # reported; the others still run
                failed[name] = str(err)
                say(f"Skipping {name}: {err}")
                continue
        cell, tuned = _fine_tune_cell(train, held, loaded.get(name), name=name, seed=seed,
                                      settings=settings, model_name=model_name, device=device,
                                      show_progress=show_progress)
        estimate.record(cell.seconds)
        if cell.score > max(scores.get(name, {}).values(), default=float("-inf")):
            tuned.save(work / "best" / slugify(name))  # before the row: a resumed run finds it
        results.append(cell)
        scores.setdefault(name, {})[seed] = cell.score
    state = standing(scores, [c for c in candidates if c not in failed], settings.seeds,
                     reference=NO_TRANSFER)
    result = summarise(scores, candidates, state.contenders, failed=failed, recipes=by_name)
    result.target, result.evaluation = train.summary(), evaluation
    result.metric = "pearson_spearman" if train.is_regression else "accuracy"
    result.stopped, result.work_dir = stopped, str(work)
    result.settings = {**settings.to_dict(), "model_name": model_name, "budget": budget,
                       "models_dir": str(models_dir), "device": str(auto_device(device)),
                       "cpu": cpu_model()}
    result.library_version = __version__
    if result.chosen is not None:
        _hand_over(result, work, Path(output) if output else work / "model", scores,
                   train=train, held=held, model_name=model_name, settings=settings,
                   recipes=by_name, models_dir=models_dir, full=full, device=device)
    result.timings = {"total": time.perf_counter() - started}
    result.to_json(work / "report.json")
    result.to_html(work / "report.html")
    return result


def hub_base_model(hub: Hub, recipes: list[SourceRecipe]) -> str:
    """The base model every candidate starts from: the sources' (all made for one model)."""
    names = {r.model_name for r in recipes if r.model_name}
    if len(names) > 1:
        raise TransferError(f"the candidates were made for different base models: "
                            f"{', '.join(sorted(names))}; pick sources of one hub")
    if names:
        return names.pop()
    entries = hub.entries()
    return entries[0].base_model if entries else DEFAULT_MODEL


def _fine_tune_cell(train: TaskData, held: TaskData, source: TunedModel | None, *, name: str,
                    seed: int, settings: TransferSettings, model_name: str, device: str | None,
                    show_progress: bool | None) -> tuple[Cell, TunedModel]:
    begun = time.perf_counter()
    tuned = fine_tune(train, model_name=model_name, config=replace(settings.finetune, seed=seed),
                      start_from=source, device=device, show_progress=show_progress,
                      desc=f"{train.name} after {name} (seed {seed})")
    score, metric = transfer_metric(held, predict(tuned, held, device=device))
    seconds = time.perf_counter() - begun
    logger.info("%s after %s (seed %d): %s %.4f in %.0f s", train.name, name, seed, metric,
                score, seconds)
    cell = Cell(target=train.name, source=name, seed=seed, score=score, metric=metric,
                train_examples=len(train), eval_examples=len(held), seconds=round(seconds, 2),
                device=str(auto_device(device)),
                finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return cell, tuned


def _read_scores(results: ResultsFile, target: str) -> dict[str, dict[int, float]]:
    scores: dict[str, dict[int, float]] = {}
    for cell in results.cells():
        if cell.target == target:
            scores.setdefault(cell.source, {})[cell.seed] = cell.score
    return scores


def _check_work_dir(results: ResultsFile, train: TaskData, recipes: list[SourceRecipe],
                    settings: TransferSettings, model_name: str) -> None:
    """A work folder holds one experiment: rows measured with other settings, data or recipes
    are not comparable, so a run with other ones is refused rather than mixed in."""
    current = {"target": train.name, "target_fingerprint": train.fingerprint,
               "model_name": model_name,
               "settings": {k: v for k, v in settings.to_dict().items() if k != "seeds"},
               "recipes": {r.name: {k: v for k, v in r.to_dict().items() if k != "rank"}
                           for r in recipes}}
    current = json.loads(json.dumps(current))
    meta = results.read_meta()
    if meta:
        for key in ("target", "target_fingerprint", "model_name", "settings"):
            if meta.get(key) != current[key]:
                raise TransferError(
                    f"{results.folder.parent} holds a transfer run with another {key.replace('_', ' ')}"
                    f" ({meta.get(key)!r}, now {current[key]!r}); use another --work folder, or "
                    "delete it to start over.")
        for name, recipe in current["recipes"].items():
            if meta.get("recipes", {}).get(name, recipe) != recipe:
                raise TransferError(f"{results.folder.parent}: source {name} was measured with "
                                    "another recipe; use another --work folder.")
        current["recipes"] = {**meta.get("recipes", {}), **current["recipes"]}
    results.write_meta({**current, "stepstone": __version__})


def _estimate(train: TaskData, held: TaskData, recipes: list[SourceRecipe],
              settings: TransferSettings, model_name: str, results: ResultsFile,
              models_dir: Path, *, full: bool, device: str | None, candidates: int) -> Estimate:
    """Speed from the rows measured so far, else from a short timed fine-tuning here."""
    from .candidates import model_folder

    measured = [c.seconds for c in results.cells() if c.target == train.name]
    speed = None if measured else measure_speed(train, model_name=model_name,
                                                config=settings.finetune, device=device)
    to_make = [r for r in recipes if not TunedModel.is_saved(model_folder(models_dir, r,
                                                                           full=full))]
    return Estimate.make(speed, measured=measured, train=len(train), held=len(held),
                         epochs=settings.finetune.epochs,
                         source_work=[(r.num_examples or 0) * r.finetune.epochs for r in to_make])


def _hand_over(result: TransferResult, work: Path, output: Path, scores, *, train: TaskData,
               held: TaskData, model_name: str, settings: TransferSettings,
               recipes: dict[str, SourceRecipe], models_dir: Path, full: bool,
               device: str | None) -> None:
    """Write the chosen candidate's best seed as the model folder (fine-tuned again only when
    its kept copy is missing)."""
    name = result.chosen
    seed, score = max(scores[name].items(), key=lambda kv: kv[1])
    kept = work / "best" / slugify(name)
    tuned = TunedModel.load(kept) if TunedModel.is_saved(kept) else None
    if tuned is None or tuned.config.get("seed") != seed:
        source = None if name == NO_TRANSFER else source_model(
            recipes[name], models_dir=models_dir, full=full, device=device, show_progress=None)
        _, tuned = _fine_tune_cell(train, held, source, name=name, seed=seed, settings=settings,
                                   model_name=model_name, device=device, show_progress=None)
    chosen = result[name]
    record = {"target": train.summary(), "source": name,
              "source_recipe": recipes[name].to_dict() if name in recipes else None,
              "seed": seed, "score": score, "metric": result.metric,
              "evaluation": result.evaluation, "seeds": chosen.seeds, "scores": chosen.scores,
              "mean": chosen.mean, "gain_over_no_transfer": chosen.gain,
              "p_beats_no_transfer": chosen.p_better, "target_finetune": settings.finetune.to_dict(),
              "base_model": model_name, "stepstone": __version__,
              "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    write_model_folder(tuned, output, record)
    result.model_path, result.model_seed, result.model_score = str(output), seed, score
