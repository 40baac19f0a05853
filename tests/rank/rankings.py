"""Rankings built by hand for the display tests (plot, HTML): plain ones, and ones with the
fields the advice layer adds (reference, recommendation, expected gains), set whether or not
this checkout's Ranking/RankedSource define them."""

from __future__ import annotations

from dataclasses import dataclass, fields

from stepstone.rank import RankedSource, Ranking, Skipped

ADVICE = ("margin", "expected_gain", "gain_low", "gain_high", "p_better")
EVIL = "<script>alert(1)</script>"


@dataclass(frozen=True)
class AdvisedSource(RankedSource):
    """RankedSource with the advice fields (redeclared harmlessly when it has them)."""

    margin: float | None = None
    expected_gain: float | None = None
    gain_low: float | None = None
    gain_high: float | None = None
    p_better: float | None = None


def plain_ranking(n: int = 25, *, names: list[str] | None = None) -> Ranking:
    names = names or [f"task_{i:02d}" for i in range(n)]
    sources = [RankedSource(rank=i + 1, esm_id=f"id-{name}", task_name=name,
                            score=-0.72 - 0.0007 * i, task_type="classification",
                            num_examples=1000 + i, fit_cosine=0.9) for i, name in
               enumerate(names)]
    return Ranking(target={"name": "my_target", "num_examples": 300,
                           "task_type": "classification", "num_classes": 2,
                           "label_names": ["neg", "pos"], "is_pair": False,
                           "class_counts": {"neg": 120, "pos": 180},
                           "origin": {"location": "/data/my_target.csv", "kind": "csv",
                                      "text_column": "text", "label_column": "label"}},
                   method="esm-logme", sources=sources,
                   skipped=[Skipped("broken-one", "model.safetensors is truncated"),
                            Skipped("foreign", "made for base model 'bert-base-uncased'")],
                   excluded=[Skipped("id-my_target", "the target's own task")],
                   embedding={"model_name": "sentence-transformers/all-MiniLM-L6-v2",
                              "pooling": "mean", "max_length": 128},
                   hub="/hubs/minilm", timings={"load": 0.1, "embed": 1.5, "score": 0.4,
                                                "total": 2.0},
                   library_version="0.1.0")


def advised_ranking(n: int = 25) -> Ranking:
    """A ranking with expected gains (falling from +3 to below 0), intervals and advice."""
    ranking = plain_ranking(n)
    sources = []
    for s in ranking.sources:
        gain = 3.0 - 0.25 * (s.rank - 1)
        values = {f.name: getattr(s, f.name) for f in fields(RankedSource)}
        values.update(margin=s.score + 0.725, expected_gain=gain, gain_low=gain - 1.5,
                      gain_high=gain + 1.0, p_better=0.5 + gain / 10)
        sources.append(AdvisedSource(**values))
    ranking.sources = sources
    ranking.reference = {"score": -0.725, "rank": 8}  # set even if not a field here
    ranking.recommendation = {"text": "Fine-tune on task_00 first: +3.0 points expected."}
    return ranking
