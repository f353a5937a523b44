"""Patching tasks: the `Task` dataclass, its logit-difference metric, the toy-world task builders, IOI on any
model (Wang et al. 2022's templates), task files, and tasks of several prompt lengths (`TaskGroups`)."""

from .base import Baselines, Task, logit_diff, single_token
from .files import file_task, read_task_file
from .groups import PromptPair, TaskGroups, as_groups, grouped_task
from .ioi import IOITask, ioi_prompt_pairs, ioi_task
from .ioi_classic import classic_ioi_task
from .toyworld import colour_task, gender_task

TASKS = {"ioi": ioi_task, "gender": gender_task, "colour": colour_task}
"""Toy-world task builders by name; each takes (model, n, seed=...). circuits.cli.build_task picks the builder for
any model (classic IOI on non-toy models, task files)."""

__all__ = ["Baselines", "IOITask", "PromptPair", "TASKS", "Task", "TaskGroups", "as_groups", "classic_ioi_task",
           "colour_task", "file_task", "gender_task", "grouped_task", "ioi_prompt_pairs", "ioi_task", "logit_diff",
           "read_task_file", "single_token"]
