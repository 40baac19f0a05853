"""BLAS threading control."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext

logger = logging.getLogger(__name__)


def single_threaded_blas() -> AbstractContextManager:
    """One BLAS thread inside the block.

    Used where several threads each run small LAPACK calls (threads would otherwise
    oversubscribe the cores), and where a result must not depend on the machine's thread count:
    a product's rounding depends on how BLAS splits it between threads, and a sharded ranking
    (Ray workers have one thread each) must reproduce the local one to the last bit.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - declared dependency; degrade, do not fail
        logger.info("threadpoolctl is not installed: BLAS threads are not limited")
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
