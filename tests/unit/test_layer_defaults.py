"""Every layer option defaults to the model's middle layer (interp.models.resolve_layer: n_layers // 2 from the
model's config.json), on a 2-layer and a 4-layer model: train-sae's --hook, snmf's --layer and the workspace's
--layer. Commands that read their hook from an artifact (eval-sae, feature-pages, steer --dictionary) keep it."""

from __future__ import annotations

import json
import re

import pytest

from apps.cli import main
from apps.workspace.config import WorkspaceBuildConfig
from interp.models import MIDDLE_LAYER, resolve_layer
from saes import io
from saes.snmf.config import SNMFConfig
from saes.snmf.run import with_provenance as snmf_resolved
from saes.training.config import TrainSAEConfig
from saes.training.run import with_provenance as train_resolved

FOUR = "toy-gelu-s0"  # 4 layers: middle layer 2


@pytest.fixture(scope="module")
def two(toy2_model):
    """A 2-layer model folder (middle layer 1)."""
    return str(toy2_model)


def test_resolve_layer_is_the_middle_one_and_names_the_option_when_out_of_range(two):
    assert resolve_layer(MIDDLE_LAYER, FOUR) == 2 and resolve_layer(MIDDLE_LAYER, two) == 1
    assert resolve_layer(3, FOUR) == 3 and resolve_layer(0, two) == 0
    with pytest.raises(ValueError, match=r"--hook-layer 2 is out of range: .* has layers 0\.\.1 \(leave --hook-layer "
                                         r"out for its middle layer, 1\)"):
        resolve_layer(2, two, "--hook-layer")


def test_train_sae_hook_defaults_to_the_middle_layers_mlp_output(two):
    assert train_resolved(TrainSAEConfig.of(model=FOUR)).hook == "blocks.2.mlp.hook_post"
    assert train_resolved(TrainSAEConfig.of(model=two)).hook == "blocks.1.mlp.hook_post"
    assert train_resolved(TrainSAEConfig.of()).hook == "blocks.2.mlp.hook_post"  # the default toy model
    assert train_resolved(TrainSAEConfig.of(model=two, hook="blocks.0.hook_resid_post")).hook == \
        "blocks.0.hook_resid_post"


def test_snmf_layer_and_out_default_to_the_middle_layer(two):
    four = snmf_resolved(SNMFConfig.of(model=FOUR))
    assert four.layer == 2 and four.output.out == "runs/snmf/toy-gelu-s0-L2"
    small = snmf_resolved(SNMFConfig.of(model=two))
    assert small.layer == 1 and small.output.out == "runs/snmf/m-L1"
    assert snmf_resolved(SNMFConfig.of(model=two, layer=0, out="x")).layer == 0
    with pytest.raises(ValueError, match=r"--layer 2 is out of range"):
        snmf_resolved(SNMFConfig.of(model=two, layer=2))


def test_workspace_layer_defaults_to_the_middle_layer(two):
    assert WorkspaceBuildConfig.of(model=FOUR).with_layer().hook == "blocks.2.mlp.hook_post"
    assert WorkspaceBuildConfig.of(model=two).with_layer().hook == "blocks.1.mlp.hook_post"
    with pytest.raises(ValueError, match=r"--layer 3 is out of range"):
        WorkspaceBuildConfig.of(model=two, layer=3).with_layer()


@pytest.mark.parametrize("command, option", [(["train-sae"], "--hook"), (["snmf"], "--layer"),
                                             (["workspace", "build"], "--layer")])
def test_help_says_the_default_is_the_models_middle_layer(command, option, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    entry = re.search(rf"^ +{option} \S+ (.*?)(?=^ +-)", capsys.readouterr().out, re.M | re.S).group(1)
    entry = " ".join(entry.split())
    assert "default: the model's middle layer" in entry, entry


def test_the_commands_run_on_a_two_layer_model_without_a_layer(two, tmp_path, one_torch_thread):
    """End to end, without --layer / --hook: the SNMF and the SAE read blocks.1 of the 2-layer model."""
    out = tmp_path / "snmf"
    assert main(["snmf", "--model", two, "--k", "4", "--tokens", "600", "--max-iter", "2", "--eval-tokens", "0",
                 "--out", str(out)]) == 0
    assert json.loads((out / "snmf.json").read_text())["layer"] == 1
    sae = tmp_path / "sae"
    assert main(["train-sae", "--model", two, "--d-sae", "16", "--k", "2", "--tokens", "512", "--batch-size", "256",
                 "--eval", "false", "--noprogress", "--out", str(sae)]) == 0
    assert io.read_info(sae).hook_name == "blocks.1.mlp.hook_post"
