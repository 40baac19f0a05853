"""Job functions for the engine tests, in a module that imports nothing heavy: Ray workers
import it to run them."""

from __future__ import annotations


class JobFailed(ValueError):
    pass


def square(x: int) -> int:
    if x < 0:
        raise JobFailed(f"negative {x}")
    return x * x
