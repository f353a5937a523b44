"""Evaluating dictionaries (docs/methods.md §2): metrics of activations and codes, CE loss recovered and KL score with
the dictionary spliced into the model, the eval.json report of SAEs and SNMF, and the `interp eval-sae` command."""
