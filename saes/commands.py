"""The `interp` commands of the saes package (apps/cli.py picks them up); configs only, nothing heavy imported."""

from __future__ import annotations

from interp.commands import Command


def commands() -> list[Command]:
    from saes.eval.config import ConceptTableConfig, EvalSAEConfig
    from saes.shipping.config import ListShippedConfig, ShipConfig
    from saes.snmf.config import SNMFConfig
    from saes.training.config import TrainSAEConfig

    return [
        Command("train-sae", TrainSAEConfig, "saes.training.run:main",
                "Train an SAE (or a sweep: several --arch/--d-sae/--k/--l0-coefficient/--l1-coefficient/--seed) "
                "on one hook, from an activation cache or on the fly; resumable; works under torchrun."),
        Command("eval-sae", EvalSAEConfig, "saes.eval.report:main",
                "Evaluate a saved SAE (any dictionary folder interp opens) on the held-out split of the corpus it was "
                "trained on (or --corpus) and write eval.json beside its weights."),
        Command("concept-table", ConceptTableConfig, "saes.eval.concepts:main",
                "The best neuron and the best latent of each dictionary per ground-truth concept (toy-world labels, on "
                "any model with --corpus toyworld), from `neurons` folders and eval.json reports: a markdown table."),
        Command("snmf", SNMFConfig, "saes.snmf.run:main",
                "Semi-nonnegative factorisation of one layer's MLP activations (full-batch or streaming), resumable; "
                "writes snmf.safetensors/json and eval.json."),
        Command("dictionaries ship", ShipConfig, "saes.shipping.ship:main",
                "Ship trained SAEs (a train-sae folder or sweep) into data/dictionaries/<model>/<hook>/<name>/: "
                "float16 SAELens weights, eval.json, a card (model, tokens, L0, R², CE recovered, probing, absorption, "
                "checksums) and a README; evaluates what eval.json lacks; never replaces what it did not ship."),
        Command("dictionaries list", ListShippedConfig, "saes.shipped:main_list",
                "List the shipped dictionaries (data/dictionaries), each with the shipped:MODEL/HOOK/NAME spec that "
                "names it wherever a dictionary is taken."),
    ]
