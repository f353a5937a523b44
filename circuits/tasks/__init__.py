"""Patching tasks: the `Task` dataclass, its logit-difference metric, the toy-world task builders (toy1's fixed
templates, toy2's IOI grammar and sentences), IOI on any model (Wang et al. 2022's templates), task files, and tasks
of several prompt lengths (`TaskGroups`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from interp.worlds import GrammarIOI, TemplateIOI, get_world, world_of_model

from .base import Baselines, Task, logit_diff, single_token
from .files import file_task, read_task_file
from .groups import PromptPair, TaskGroups, as_groups, grouped_task
from .ioi import IOITask, ioi_prompt_pairs, ioi_task
from .ioi_classic import classic_ioi_task
from .ioi_toy2 import describe as describe_toy2_ioi
from .ioi_toy2 import ioi_toy2_pairs, ioi_toy2_task
from .toyworld import colour_task, gender_task

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

TASKS = {"ioi": ioi_task, "gender": gender_task, "colour": colour_task}
"""Toy-world task builders by name; each takes (model, n, seed=...). `ioi_task` is toy1's (its templates); gender
and colour write the sentences of the model's own world (toy1 or toy2). circuits.cli.build_task picks the builder
for any model: these on toy1 models, TOY2_TASKS on toy2 models (`world_tasks`), classic IOI on others, or a task
file."""
TOY2_TASKS = {**TASKS, "ioi": ioi_toy2_task}
"""The builders for toy2 models: IOI from toy2's own IOI grammar (circuits.tasks.ioi_toy2)."""


class WorldTasks(NamedTuple):
    """The patching tasks of the models of worlds with one kind of IOI grammar."""

    builders: dict
    """Task name -> builder (model, n, seed=..., and corruption=... for ioi)."""
    info: Callable[[str, str], dict]
    """(world name, task name) -> what summary.json records about its prompts."""


GRAMMAR_TASKS = {
    TemplateIOI: WorldTasks(TASKS, lambda world, task: {"prompts": "toy world"}),
    GrammarIOI: WorldTasks(TOY2_TASKS, lambda world, task: {
        "world": world, "prompts": describe_toy2_ioi(ioi=get_world(world).ioi) if task == "ioi"
        else f"{world} world sentences"}),
}
"""The tasks of a world's models, by the kind of its IOI grammar (`World.ioi`, interp.worlds.ioi): the one registry
of the toy-world tasks. A world registered with no IOI grammar gets classic IOI and task files, as any model does."""


class ModelTasks(NamedTuple):
    """The tasks of one model's world and what summary.json records about their prompts."""

    builders: dict
    info: Callable[[str], dict]
    """Task name -> what summary.json records about its prompts."""


def world_tasks(model: HookedTransformer) -> ModelTasks | None:
    """The patching tasks of `model`'s world (read from the model, `interp.worlds.world_of_model`), by the kind of
    its IOI grammar; None for a model of no world, or of a world with no IOI grammar."""
    world = world_of_model(model)
    kind = GRAMMAR_TASKS.get(type(world.ioi)) if world is not None else None
    if kind is None:
        return None
    return ModelTasks(kind.builders, partial(kind.info, world.name))


def toy_tasks(model: HookedTransformer) -> dict:
    """The task builders of `model`'s toy world (TASKS for toy1, TOY2_TASKS for toy2); a one-line error for a model
    of neither (give it classic_ioi_task or a task file)."""
    tasks = world_tasks(model)
    if tasks is None:
        raise ValueError("the toy-world tasks need a toy-world model (toy1's or toy2's vocabulary): use "
                         "classic_ioi_task(model) or file_task(model, path) for other models")
    return tasks.builders


__all__ = ["GRAMMAR_TASKS", "Baselines", "IOITask", "ModelTasks", "PromptPair", "TASKS", "TOY2_TASKS", "Task",
           "TaskGroups", "WorldTasks", "as_groups",
           "classic_ioi_task", "colour_task", "file_task", "gender_task", "grouped_task", "ioi_prompt_pairs",
           "ioi_task", "ioi_toy2_pairs", "ioi_toy2_task", "logit_diff", "read_task_file", "single_token", "toy_tasks",
           "world_tasks"]
