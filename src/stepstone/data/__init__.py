"""Datasets in: files, pool folders, DataFrames or Hugging Face ids -> validated TaskData."""

from .loaders import load_task, read_table, task_from_frame, task_name
from .task import TaskData, TaskOrigin, TaskType

__all__ = ["TaskData", "TaskOrigin", "TaskType", "load_task", "read_table", "task_from_frame",
           "task_name"]
