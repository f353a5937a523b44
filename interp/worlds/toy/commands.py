"""The toy worlds' commands (`interp toyworld train|generate|eval`), collected by apps/cli.py beside every
package's `commands` module, so the core's command list names no world."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from .config import GenerateConfig, ToyEvalConfig, ToyTrainConfig

    return [
        Command("toyworld train", ToyTrainConfig, "interp.worlds.toy.train:main",
                "Train a toy language model on the toy-world corpus (reproduces the shipped models)."),
        Command("toyworld generate", GenerateConfig, "interp.worlds.toy.corpus:main",
                "Write toy-world documents with ground-truth labels to a folder."),
        Command("toyworld eval", ToyEvalConfig, "interp.worlds.toy.ioi_eval:main",
                "IOI accuracy and logit difference of a toy model on held-out surface forms and held-out names; "
                "prints ioi_heldout_form_acc=... last."),
    ]
