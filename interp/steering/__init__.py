"""Steering: add α·d̂ at a hook (dictionary feature, neuron or difference-in-means direction), generate with it,
calibrate α to KL targets, describe directions by their effect on outputs, and benchmark steering on the toy world.

Works with any `interp.dictionary.Dictionary` (SAEs and SNMF) and never imports `saes`.
"""

from __future__ import annotations

from .apply import Generation, generate, sequence_nll, steer, steered_logits, steering_hooks
from .calibrate import DEFAULT_TARGETS, Calibration, CalibrationPoint, calibrate, kl_at_alphas, kl_divergence
from .io import (
    FolderDirections,
    load_directions,
    load_feature_scores,
    load_steering,
    save_feature_scores,
    save_steering,
)
from .scores import FeatureScores, TokenList, feature_scores, input_scores, output_scores, token_change, vocab_proj
from .vectors import (
                      SteeringVector,
                      check_direction,
                      diff_in_means,
                      diff_in_means_concept,
                      feature_vector,
                      hook_shape,
                      neuron_vector,
                      parse_neuron,
                      raw_vector,
)

__all__ = [
    "DEFAULT_TARGETS",
    "Calibration",
    "CalibrationPoint",
    "FeatureScores",
    "FolderDirections",
    "Generation",
    "SteeringVector",
    "TokenList",
    "calibrate",
    "check_direction",
    "diff_in_means",
    "diff_in_means_concept",
    "feature_scores",
    "feature_vector",
    "generate",
    "hook_shape",
    "input_scores",
    "kl_at_alphas",
    "kl_divergence",
    "load_directions",
    "load_feature_scores",
    "load_steering",
    "neuron_vector",
    "output_scores",
    "parse_neuron",
    "raw_vector",
    "save_feature_scores",
    "save_steering",
    "sequence_nll",
    "steer",
    "steered_logits",
    "steering_hooks",
    "token_change",
    "vocab_proj",
]
