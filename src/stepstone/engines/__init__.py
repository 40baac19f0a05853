"""Where work runs: in this process (``local``, the default) or on a Ray cluster (``ray``)."""

from .base import Engine, Executor, Job, LocalExecutor, Outcome, get_executor

__all__ = ["Engine", "Executor", "Job", "LocalExecutor", "Outcome", "get_executor"]
