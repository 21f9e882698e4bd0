"""Tasks: pure label schemas, prompt building and answer parsing (no I/O)."""
from .base import TASKS, Task, make_task, match_label, register_task

__all__ = ["TASKS", "Task", "make_task", "match_label", "register_task"]
