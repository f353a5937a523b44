"""Inputs a reviewer tried in order to break the tool: each ends in one line that names the problem and the fix,
never a traceback, and writes nothing it should not."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model  # noqa: E402

from apps.cli import main  # noqa: E402


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("interp:")]


def test_out_that_is_a_file_fails_before_the_model_loads(tmp_path, capsys):
    f = tmp_path / "a-file"
    f.write_text("mine")
    with pytest.raises(SystemExit) as e:
        main(["cache", "--model", "no-such-model", "--out", str(f)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "is an existing file, not a folder" in err
    assert f.read_text() == "mine"


def test_pickled_weights_are_never_unpickled(tmp_path, capsys):
    from saes import build_sae, sae_config
    from saes import io as sae_io

    sae_io.save(build_sae(sae_config("relu", d_in=512, d_sae=16, hook_name="blocks.0.mlp.hook_post",
                                     model_name="toy-gelu-s0")), tmp_path / "sae")
    torch.save({"W_enc": torch.zeros(1)}, tmp_path / "sae" / "sae_weights.safetensors")
    assert main(["eval-sae", "--sae", str(tmp_path / "sae")]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert "a pickle" in line and "never unpickles" in line and "weights_only" not in line
    folder = tiny_model("gpt2", tmp_path / "gpt2", bpe_tokenizer(tmp_path / "tok"))
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    assert main(["cache", "--model", str(folder), "--corpus", "toyworld", "--out", str(tmp_path / "c")]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert "no .safetensors weights (only pytorch_model.bin)" in line and "safe_serialization" in line


def test_unwritable_and_full_disks_are_one_line(tmp_path, read_only_disk, small_disk, capsys):
    assert main(["cache", "--tokens", "1024", "--hooks", "blocks.0.mlp.hook_post",
                 "--out", str(read_only_disk / "cache")]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert "no permission" in line and str(read_only_disk) in line
    (small_disk / "filler").write_bytes(os.urandom(6 * 2**20 - 48 * 1024))  # leave ~48 KB
    code = main(["train-sae", "--hook", "blocks.0.mlp.hook_post", "--arch", "topk", "--d-sae", "64", "--k", "4",
                 "--tokens", "4096", "--batch-size", "256", "--checkpoint-every", "2", "--eval", "false",
                 "--progress", "false", "--out", str(small_disk / "sae")])
    (line,) = _error_lines(capsys.readouterr().err)
    assert code == 1 and "disk is full" in line and "run the same command again" in line
    (small_disk / "filler").unlink()
    code = main(["train-sae", "--hook", "blocks.0.mlp.hook_post", "--arch", "topk", "--d-sae", "64", "--k", "4",
                 "--tokens", "4096", "--batch-size", "256", "--checkpoint-every", "2", "--eval", "false",
                 "--progress", "false", "--out", str(small_disk / "sae")])
    assert code == 0 and (small_disk / "sae" / "cfg.json").is_file()  # resumed and finished
    assert json.loads((small_disk / "sae" / "cfg.json").read_text())["d_sae"] == 64


def test_files_a_command_did_not_make_are_never_replaced_without_overwrite(tmp_path, capsys, toy_model):
    from interp.worlds.toy import train as T
    from interp.worlds.toy.config import TOY1_RECIPE, ToyTrainConfig

    fig = tmp_path / "mine.html"
    fig.write_text("my figure")
    args = ["steer", "--model", "toy-gelu-s0", "--neuron", "2:5", "--alpha", "3", "--max-new-tokens", "2",
            "--out", str(tmp_path / "steer")]
    assert main(args) == 0
    assert main(args) == 1 and "--overwrite" in capsys.readouterr().err  # an earlier run's artifact stays
    assert main([*args, "--overwrite"]) == 0
    assert main(["steer-bench", "--dictionaries", str(tmp_path / "none"), "--figure", str(fig)]) == 1
    assert "mine.html" in capsys.readouterr().err and fig.read_text() == "my figure"
    report = tmp_path / "report.json"
    report.write_text("{}")
    assert main(["patch-compare", "--n-prompts", "2", "--out", str(report)]) == 1
    assert report.read_text() == "{}"
    tiny = dict(n_layers=1, d_model=32, n_heads=2, d_mlp=64, n_ctx=32, batch_size=4, warmup_steps=2, device="cpu")
    cfg = ToyTrainConfig.of(**{**TOY1_RECIPE, **tiny, "tokens": 2 * 4 * 32, "out": str(tmp_path / "toy"),
                               "checkpoint_every": 1})
    T.train_toy_model(cfg)
    before = (tmp_path / "toy" / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="--overwrite"):
        T.train_toy_model(cfg)
    assert (tmp_path / "toy" / "model.safetensors").read_bytes() == before


def test_prompts_longer_than_the_context_and_unknown_toy_words(toy_model, capsys):
    from interp.models import prompt_tokens

    with pytest.raises(ValueError, match=f"more than the model's context of {toy_model.cfg.n_ctx}"):
        prompt_tokens(toy_model, "the cat " * 100)
    with pytest.warns(UserWarning, match=r"does not know.*xylophone"):
        toks = prompt_tokens(toy_model, "Mary saw a xylophone")
    assert int(toks[-1]) == toy_model.tokenizer.unk_token_id
    assert main(["steer", "--neuron", "2:5", "--alpha", "1", "--prompt", "the cat " * 100]) == 1
    assert "more than the model's context" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["universal", "--models", "a", "b", "--threshold", "nan"], "threshold=nan must be a number in [-1, 1]"),
    (["universal", "--models", "a", "b", "--threshold", "3"], "threshold=3.0 must be a number in [-1, 1]"),
    (["neurons", "--near-zero", "nan"], "near_zero must be >= 0, got nan"),
    (["neurons", "--fire-threshold", "inf"], "fire_threshold must be a finite number"),
])
def test_neuron_thresholds_that_are_not_numbers_are_refused_at_parse_time(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    lines = _error_lines(capsys.readouterr().err)
    assert e.value.code == 2 and len(lines) == 1 and message in lines[0]
