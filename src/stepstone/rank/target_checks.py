"""Is the target big enough for its ranking to mean something?

A ranking of a 3-example target is noise: transferability scores estimate how well features
separate the classes, and with a handful of examples every source looks alike or the order is
set by chance. The benchmark (README, "Benchmark") measured targets of 500 training examples
(2-6 classes, 50 or more examples in most classes) and the paper targets of 1,000, so below
:data:`MIN_EXAMPLES` examples in total or :data:`MIN_PER_CLASS` in a class the ranking gets a
warning that says so. A class with fewer than two examples has no within-class spread at all;
the scores still compute, and a rare class in a sample of a skewed task is common (reuters_r8's
'grain' has one example in the benchmark's 500), so such a class only gets the small-class
warning. Methods that use the labels of a classification target refuse a target with fewer than
two classes of two or more examples (nothing is left to compare sources on) and name the
classes of one.
"""

from __future__ import annotations

import numpy as np

from ..data.task import TaskData
from .._options import some_of
from ..errors import LabelError

#: fewer examples than this in total get a warning (a fifth of the benchmark's 500)
MIN_EXAMPLES = 100
#: fewer examples than this in some class get a warning
MIN_PER_CLASS = 10
BENCHMARK_SIZES = ("the benchmark's results hold for targets of 500 training examples "
                   "(2-6 classes, most with 50 or more examples each; the paper used 1,000)")


def uses_labels(method: str) -> bool:
    """Whether ``method`` (a fusion: any of its components) scores with the target's labels
    (its registered record says so)."""
    from .registry import get_method

    return get_method(method).uses_labels


def class_counts(task: TaskData) -> dict[str, int]:
    """Class name -> examples, for the classes present (empty for regression)."""
    if task.is_regression:
        return {}
    counts = np.bincount(task.labels, minlength=task.num_classes)
    return {_class_name(task, c): int(n) for c, n in enumerate(counts) if n > 0}


def check_target_size(task: TaskData, method: str) -> list[str]:
    """Warnings for a small target; raises LabelError when the method uses the labels of a
    classification target and fewer than two classes have two or more examples."""
    counts = class_counts(task)
    single = [name for name, n in counts.items() if n < 2]
    if single and len(counts) - len(single) < 2 and uses_labels(method):
        which = (f"class {single[0]!r} has only one example" if len(single) == 1 else
                 f"classes {some_of([repr(n) for n in single])} have only one example each")
        raise LabelError(
            f"{task.origin.location}: {which} in the target (task {task.name!r}); {method} "
            "needs at least two classes of two or more examples to compare sources. Add "
            "examples of those classes, drop them, or use a larger --num-examples.")
    warnings = []
    if len(task) < MIN_EXAMPLES:
        warnings.append(f"the target has only {len(task)} examples; a ranking this small is "
                        f"mostly chance ({BENCHMARK_SIZES}).")
    small = {name: n for name, n in counts.items() if n < MIN_PER_CLASS}
    if small:
        listed = some_of([f"{name!r} ({n})" for name, n in sorted(small.items(),
                                                                  key=lambda kv: kv[1])])
        warnings.append(f"{len(small)} class{'es' if len(small) > 1 else ''} of the target "
                        f"{'have' if len(small) > 1 else 'has'} fewer than {MIN_PER_CLASS} "
                        f"examples: {listed}; scores of such classes are unreliable "
                        f"({BENCHMARK_SIZES}).")
    return warnings


def _class_name(task: TaskData, index: int) -> str:
    names = task.label_names
    return str(names[index]) if names is not None and index < len(names) else str(index)
