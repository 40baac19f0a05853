"""Datasets in: files, pool folders, DataFrames or Hugging Face ids -> validated TaskData."""

from .frames import task_from_frame
from .loaders import load_task, task_name
from .readers import read_table
from .task import TaskData, TaskOrigin, TaskType

__all__ = ["TaskData", "TaskOrigin", "TaskType", "load_task", "read_table", "task_from_frame",
           "task_name"]
