"""Live check of stepstone against hfselect 0.2.1 (run in its own virtualenv, see
hfselect_env.py). Prints one line per comparison and exits 1 if any differs.

    python3 benchmarks/check_hfselect_interop.py [--hub HUB] [--num-examples 500] [--no-minilm]

1. ESMs written by stepstone (fresh float16/float32 ones, and up to five real ESMs of the bundled
   MiniLM hub) load in hfselect (``ESM.from_pretrained``) and map inputs like stepstone does;
2. ESMs freshly written by hfselect (current and legacy 0.1.0 layout) load in stepstone and map
   inputs like hfselect does;
3. stepstone embeds texts and text pairs the way hfselect does for the ESMs it made (BERT pooler,
   masked mean for "sentence-transformers" models, " [SEP] "-joined pairs, 128 tokens), with the
   tiny fixture BERT and with the real all-MiniLM-L6-v2;
4. ESM-LogME scores of the MiniLM hub's ESMs for a real target (tweeteval_irony, N > D so that
   hfselect's LogME rank bug does not apply) agree between hfselect.compute_scores and
   stepstone.rank_sources.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hfselect_env import hfselect_python  # noqa: E402
from hfselect_side import BASE, BASE_ST, fixture_texts  # noqa: E402

FIXTURE_BERT = REPO / "tests" / "fixtures" / "hfselect" / "tiny-bert"
MINILM_HUB = REPO / "src" / "stepstone" / "hubs" / "all-MiniLM-L6-v2"
SIDE = Path(__file__).resolve().parent / "hfselect_side.py"
ROWS: list[tuple[str, float, float, bool]] = []


def compare(what: str, ours: np.ndarray, theirs: np.ndarray, *, tol: float) -> None:
    diff = float(np.max(np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64))))
    scale = float(np.max(np.abs(theirs)))
    ROWS.append((what, diff, scale, diff <= tol * max(scale, 1.0)))


def run_hfselect(*args: str) -> None:
    done = subprocess.run([str(hfselect_python()), str(SIDE), *args], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"hfselect side failed:\n{done.stderr[-4000:]}")
    print("hfselect side:", done.stdout.strip().splitlines()[-1])


def stepstone_esms(work: Path, minilm_hub: Path | None) -> list[Path]:
    from stepstone.esm import ESM, ESMConfig, save_esm

    rng = np.random.default_rng(5)
    folders = []
    for dtype in ("float16", "float32"):
        esm = ESM(weight=(np.eye(16) + 0.3 * rng.standard_normal((16, 16))).astype(np.float32),
                  bias=rng.standard_normal(16).astype(np.float32),
                  config=ESMConfig(base_model_name=BASE, task_id=f"check-{dtype}"))
        folders.append(save_esm(esm, work / "stepstone-esms" / f"check-{dtype}", dtype=dtype))
    if minilm_hub is not None and (minilm_hub / "esms").is_dir():
        for folder in sorted((minilm_hub / "esms").iterdir())[:5]:
            if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
                folders.append(Path(shutil.copytree(folder, work / "minilm-hub" / "esms" /
                                                    folder.name)))
    return folders


def minilm_target(num_examples: int):
    from stepstone.data import load_task

    for folder in (REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if (folder / "tweeteval_irony" / "task.json").is_file():
            return load_task(folder / "tweeteval_irony", num_examples=num_examples)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", type=Path, default=MINILM_HUB,
                        help="A MiniLM hub to take up to five real ESMs from (copied, read only).")
    parser.add_argument("--num-examples", type=int, default=500)
    parser.add_argument("--no-minilm", action="store_true", help="Only the tiny fixture BERT.")
    args = parser.parse_args()
    from safetensors.numpy import load_file, save_file

    from stepstone.encode import Encoder
    from stepstone.encode.models import resolve_model_path
    from stepstone.esm import load_esm
    from stepstone.esm.embedding import hfselect_embedding

    work = Path(tempfile.mkdtemp(prefix="hfselect-check-"))
    models = {BASE: work / BASE, BASE_ST: work / BASE_ST}
    for path in models.values():
        shutil.copytree(FIXTURE_BERT, path)
    minilm = not args.no_minilm
    if minilm:  # hfselect picks mean pooling when "sentence-transformers" is in the path
        models["minilm"] = work / "sentence-transformers" / "all-MiniLM-L6-v2"
        models["minilm"].parent.mkdir(parents=True, exist_ok=True)
        models["minilm"].symlink_to(resolve_model_path("sentence-transformers/all-MiniLM-L6-v2"))
    ours = stepstone_esms(work, args.hub if minilm else None)
    theirs_dir = work / "hfselect-made"
    run_hfselect("make", str(theirs_dir))  # fresh hfselect ESMs + the fixture's expected values
    rng = np.random.default_rng(0)
    x = {f"x/{d}": rng.standard_normal((8, d)).astype(np.float32) for d in (16, 384)}
    save_file(x, str(work / "x.safetensors"))
    texts, pairs, labels = fixture_texts()
    request = {"esms": [str(p) for p in ours], "x": str(work / "x.safetensors"),
               "out": str(work / "out.safetensors"),
               "embed": [{"model": str(models[BASE]), "texts": texts, "pairs": None},
                         {"model": str(models[BASE]), "texts": texts, "pairs": pairs},
                         {"model": str(models[BASE_ST]), "texts": texts, "pairs": pairs}]}
    target = minilm_target(args.num_examples) if minilm else None
    if minilm:
        request["embed"].append({"model": str(models["minilm"]), "texts": texts[:32],
                                 "pairs": pairs[:32]})
    minilm_esms = [p for p in ours if p.parent.parent.name == "minilm-hub"]
    if target is not None and minilm_esms:
        request["scores"] = [{"model": str(models["minilm"]), "esms": [str(p) for p in minilm_esms],
                              "texts": target.texts, "labels": target.labels.tolist()}]
    (work / "request.json").write_text(json.dumps(request))
    run_hfselect("apply", str(work / "request.json"))
    out = load_file(str(work / "out.safetensors"))

    for i, folder in enumerate(ours):  # 1. stepstone's files in hfselect
        esm = load_esm(folder)
        compare(f"stepstone-written {folder.name} in hfselect", esm(x[f"x/{esm.dim}"]),
                out[f"out/{i}"], tol=1e-6)
    expected = load_file(str(theirs_dir / "expected.safetensors"))  # 2. hfselect's in stepstone
    for name in ("esm-current", "esm-legacy", "esm-sentence-transformers"):
        compare(f"hfselect-written {name} in stepstone", load_esm(theirs_dir / name)(
            expected["x"]), expected[f"out/{name}"], tol=1e-6)
    jobs = [(BASE, None), (BASE, pairs), (BASE_ST, pairs)]  # 3. embeddings
    if minilm:
        jobs.append(("minilm", pairs[:32]))
    for i, (base, job_pairs) in enumerate(jobs):
        # the rule is applied to the model's name as hfselect was given it: here, its path
        spec = hfselect_embedding(str(models[base]))
        encoder = Encoder(str(models[base]), pooling=spec["pooling"],
                          pair_mode=spec["pair_mode"], max_length=spec["max_length"], cache=False,
                          show_progress=False)
        n = len(job_pairs) if job_pairs is not None else len(texts)
        compare(f"embedding {base} ({spec['pooling']}, {'pairs' if job_pairs else 'texts'})",
                encoder.embed(texts[:n], job_pairs), out[f"embed/{i}"], tol=1e-4)
    if "scores" in request:  # 4. ESM-LogME scores
        from stepstone.hub import Hub
        from stepstone.rank import rank_sources

        ranking = rank_sources(target, hub=Hub(work / "minilm-hub"), show_progress=False)
        scores = ranking.scores()
        ours_scores = np.asarray([scores[p.name] for p in minilm_esms])
        compare(f"ESM-LogME of {len(minilm_esms)} MiniLM hub ESMs, tweeteval_irony "
                f"N={len(target)}", ours_scores, out["scores/0"], tol=1e-4)
        print("scores (stepstone | hfselect):", *[f"{p.name}: {a:.6f} | {b:.6f}" for p, a, b
                                                  in zip(minilm_esms, ours_scores,
                                                         out["scores/0"])], sep="\n  ")
    width = max(len(r[0]) for r in ROWS)
    print(f"\n{'comparison':<{width}}  {'max |diff|':>10}  {'max |value|':>11}  result")
    for what, diff, scale, ok in ROWS:
        print(f"{what:<{width}}  {diff:>10.2e}  {scale:>11.3g}  {'ok' if ok else 'DIFFERS'}")
    shutil.rmtree(work, ignore_errors=True)
    if not all(r[3] for r in ROWS):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
