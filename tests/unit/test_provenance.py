"""interp.provenance.check_model, the one check where artifacts meet a model, on the shipped toy models' records."""

from __future__ import annotations

import pytest

from interp.models import model_fingerprint
from interp.provenance import ModelRecord, ProvenanceError, check_hook, check_model, model_record


def _record(name: str, processing: str = "default", what: str = "the SAE s") -> ModelRecord:
    return ModelRecord.read(model_record(name, processing), what)


def test_the_recorded_model_and_processing_win_over_defaults():
    assert check_model("", "default", _record("toy-gelu-s0", "none")) == ("toy-gelu-s0", "none")
    assert check_model("", "default") == ("toy-gelu-s0", "default")  # nothing recorded: the default toy model
    assert check_model("toy-gelu-s1", "none") == ("toy-gelu-s1", "none")


def test_disagreements_name_both_sides():
    with pytest.raises(ProvenanceError, match="--model toy-gelu-s1 disagrees with the SAE s.*toy-gelu-s0"):
        check_model("toy-gelu-s1", "default", _record("toy-gelu-s0"))
    with pytest.raises(ProvenanceError, match="--weight-processing none disagrees"):
        check_model("", "none", _record("toy-gelu-s0", "default"))
    with pytest.raises(ProvenanceError, match="the SAE s records the model toy-gelu-s0 but the cache c records "
                                              "toy-gelu-s1"):
        check_model("", "default", _record("toy-gelu-s0"), _record("toy-gelu-s1", what="the cache c"))
    with pytest.raises(ProvenanceError, match="weight processing default but the cache c records none"):
        check_model("", "default", _record("toy-gelu-s0"), _record("toy-gelu-s0", "none", "the cache c"))
    with pytest.raises(ProvenanceError, match="--hook blocks.0.mlp.hook_post disagrees .* blocks.2.mlp.hook_post"):
        check_hook("blocks.0.mlp.hook_post", "blocks.2.mlp.hook_post", "the SAE s")
    assert check_hook("", "blocks.2.mlp.hook_post", "the SAE s") == "blocks.2.mlp.hook_post"


def test_a_record_naming_other_weights_is_refused_and_one_without_a_fingerprint_is_checked_by_name():
    edited = ModelRecord("toy-gelu-s1", "default", model_fingerprint("toy-gelu-s0"), "the cache c")
    with pytest.raises(ProvenanceError) as e:
        check_model("", "default", edited)
    assert model_fingerprint("toy-gelu-s0") in str(e.value) and model_fingerprint("toy-gelu-s1") in str(e.value)
    old = ModelRecord.read({"model": "toy-gelu-s1", "weight_processing": "default"}, "the cache c")
    assert old.fingerprint is None and check_model("", "default", old) == ("toy-gelu-s1", "default")
