"""Patching tasks: the `Task` dataclass, its logit-difference metric, and the toy-world task builders."""

from .base import Baselines, Task, logit_diff, single_token
from .ioi import IOITask, ioi_prompt_pairs, ioi_task
from .toyworld import colour_task, gender_task

TASKS = {"ioi": ioi_task, "gender": gender_task, "colour": colour_task}
"""Task builders by name (`interp patch --task NAME`); each takes (model, n, seed=...)."""

__all__ = ["Baselines", "IOITask", "TASKS", "Task", "colour_task", "gender_task", "ioi_prompt_pairs", "ioi_task",
           "logit_diff", "single_token"]
