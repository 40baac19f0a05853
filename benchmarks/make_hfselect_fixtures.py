"""Make the committed hfselect interop fixtures in tests/fixtures/hfselect (run it again only to
refresh them; the test suite reads them and never needs hfselect).

    python3 benchmarks/make_hfselect_fixtures.py [--out tests/fixtures/hfselect]

1. hfselect 0.2.1, in its own virtualenv (hfselect_env.py), writes a tiny random BERT, its ESMs
   (current and legacy 0.1.0 layout), their outputs, its embeddings and ESM-LogME scores
   (benchmarks/hfselect_side.py ``make``);
2. stepstone writes ESMs (float16, float32, and hfselect's legacy ESM re-saved) into
   ``stepstone-written/``;
3. hfselect loads those with ``ESM.from_pretrained`` and records its outputs (``apply``);
4. manifest.json records this script, the date and every package version on both sides.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hfselect_env import hfselect_python  # noqa: E402

SIDE = Path(__file__).resolve().parent / "hfselect_side.py"


def run_hfselect(*args: str) -> dict:
    done = subprocess.run([str(hfselect_python()), str(SIDE), *args], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"hfselect side failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_stepstone_esms(out: Path) -> list[Path]:
    from stepstone.esm import ESM, ESMConfig, load_esm, save_esm

    folder = out / "stepstone-written"
    rng = np.random.default_rng(11)
    written = []
    for dtype in ("float16", "float32"):
        config = ESMConfig(base_model_name="stepstone-test/tiny-bert",
                           task_id=f"stepstone-test/written-{dtype}", num_examples=40, seed=42,
                           stepstone={"task_name": f"written-{dtype}",
                                      "task_type": "classification", "num_classes": 2,
                                      "embedding": {"model_name": "stepstone-test/tiny-bert",
                                                    "pooling": "pooler", "max_length": 128,
                                                    "pair_mode": "tokenizer"},
                                      "fit": {"method": "closed-form", "cosine": 0.97}})
        esm = ESM(weight=(np.eye(16) + 0.3 * rng.standard_normal((16, 16))).astype(np.float32),
                  bias=rng.standard_normal(16).astype(np.float32), config=config)
        written.append(save_esm(esm, folder / f"written-{dtype}", dtype=dtype))
    # hfselect's legacy ESM read by stepstone and written back (must not keep "version": "0.1.0")
    legacy = load_esm(out / "esm-legacy")
    written.append(save_esm(legacy, folder / "resaved-legacy", dtype="float32"))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "hfselect")
    args = parser.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    versions = run_hfselect("make", str(out))
    written = write_stepstone_esms(out)

    from safetensors.numpy import load_file, save_file

    expected = out / "expected.safetensors"
    with tempfile.TemporaryDirectory() as tmp:
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "out.safetensors"
        request.write_text(json.dumps({"esms": [str(p) for p in written], "x": str(expected),
                                       "out": str(result)}))
        run_hfselect("apply", str(request))
        outputs = load_file(str(result))
    tensors = load_file(str(expected))
    for i, folder in enumerate(written):
        tensors[f"out/{folder.name}"] = outputs[f"out/{i}"]
    save_file(tensors, str(expected))

    import stepstone

    manifest = {
        "made_by": "benchmarks/make_hfselect_fixtures.py (hfselect side: "
                   "benchmarks/hfselect_side.py)",
        "date": dt.date.today().isoformat(),
        "hfselect_side": versions,
        "stepstone_side": {"stepstone": stepstone.__version__,
                           "numpy": np.__version__, "python": sys.version.split()[0]},
        "contents": {
            "tiny-bert": "random BertModel (hidden 16, 1 layer, 2 heads, 128 positions), "
                         "WordPiece vocabulary of ~100 tokens, saved by transformers",
            "esm-current": "hfselect ESM, current layout, as publish() writes it "
                           "(base stepstone-test/tiny-bert)",
            "esm-legacy": "hfselect ESM in the legacy 0.1.0 layout (sequential.0.*)",
            "esm-sentence-transformers": "hfselect ESM for a 'sentence-transformers/' base "
                                         "model name (hfselect embeds those by masked mean)",
            "stepstone-written": "ESMs written by stepstone's save_esm (float16, float32, and "
                                 "esm-legacy re-saved); their out/ tensors are hfselect's "
                                 "outputs after ESM.from_pretrained",
            "expected.safetensors": "x (8, 16); out/<folder>: hfselect's ESM(x); "
                                    "embed/<pooler|mean>/<texts|pairs>: hfselect's embeddings of "
                                    "inputs.json with tiny-bert named as each base model; "
                                    "scores/pooler: hfselect.compute_scores of "
                                    "inputs.json's scored_esms for its texts and labels",
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["hfselect_side"]))
    print(f"fixtures written to {out}")


if __name__ == "__main__":
    main()
