"""Steering: add α·d̂ at a hook (dictionary feature, neuron or difference-in-means direction), generate with it,
calibrate α to KL targets, describe directions by their effect on outputs, and benchmark steering on the toy world.

Works with any `interp.dictionary.Dictionary` (SAEs and SNMF) and never imports `saes`.
Members are imported lazily, so that reading the steering config (the CLI's parser) does not load torch.
"""

from __future__ import annotations

import importlib

_MEMBERS = {  # name -> submodule that defines it
    **dict.fromkeys(("Generation", "generate", "sequence_nll", "steer", "steered_logits", "steering_hooks"), "apply"),
    **dict.fromkeys(("DEFAULT_TARGETS", "Calibration", "CalibrationPoint", "calibrate", "kl_at_alphas",
                     "kl_divergence"), "calibration"),
    **dict.fromkeys(("load_feature_scores", "load_steering",
                     "save_feature_scores", "save_steering"), "io"),
    **dict.fromkeys(("FeatureScores", "TokenList", "feature_scores", "input_scores", "output_scores",
                     "token_change", "vocab_proj"), "scores"),
    **dict.fromkeys(("SteeringVector", "check_direction", "diff_in_means", "diff_in_means_concept",
                     "feature_vector", "hook_shape", "neuron_vector", "parse_neuron", "raw_vector"), "vectors"),
}


def __getattr__(name: str):
    if name in _MEMBERS:
        return getattr(importlib.import_module(f"{__name__}.{_MEMBERS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_MEMBERS)
