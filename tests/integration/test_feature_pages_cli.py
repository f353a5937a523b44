"""`interp feature-pages` for real on toy-gelu-s0 with a tiny SAE trained here by `interp train-sae`: pages from a
corpus (cached in OUT/cache) equal the pages from that cache, record where they come from, are left alone when up to
date, and an --out holding anything else is refused with one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.cli import main
from interp.pages.features import load_feature_pages

HOOK = "blocks.0.mlp.hook_post"


@pytest.fixture(scope="module")
def sae(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sae") / "topk"
    assert main(["train-sae", "--model", "toy-gelu-s0", "--hook", HOOK, "--arch", "topk", "--d-sae", "64", "--k", "4",
                 "--tokens", "4096", "--batch-size", "256", "--out", str(out), "--eval", "false", "--progress",
                 "false", "--device", "cpu"]) == 0
    return out


@pytest.fixture(scope="module")
def pages(sae, tmp_path_factory):
    out = tmp_path_factory.mktemp("pages") / "topk"
    assert main(["feature-pages", "--dictionary", str(sae), "--corpus", "toyworld", "--tokens", "4096",
                 "--examples-per-bin", "3", "--out", str(out), "--device", "cpu"]) == 0
    return out


def test_pages_of_a_trained_sae_record_their_provenance(sae, pages):
    p = load_feature_pages(pages)  # validated: every example inside its bin
    m = p.meta
    assert p.d_sae == 64 and m["hook"] == HOOK and m["model"] == "toy-gelu-s0"
    assert m["weight_processing"] == "default" and m["corpus"]["source"] == "toyworld"
    assert m["path"] == str(sae.resolve()) and m["dictionary_kind"] == "sae" and m["settings"]["k"] == 3
    assert m["concepts"] and m["n_tokens"] > 3900  # toy-world labels give concepts; BOS positions left out
    assert (p.arrays["ex_index"] >= 0).any() and not p.arrays["dead"].all()


def test_pages_from_the_cache_equal_pages_from_the_corpus(sae, pages, tmp_path):
    out = tmp_path / "from-cache"
    assert main(["feature-pages", "--dictionary", str(sae), "--cache", str(pages / "cache"), "--examples-per-bin",
                 "3", "--out", str(out)]) == 0
    a, b = load_feature_pages(pages), load_feature_pages(out)
    assert set(a.arrays) == set(b.arrays)
    for k in a.arrays:
        assert np.array_equal(a.arrays[k], b.arrays[k], equal_nan=True), k


def test_up_to_date_pages_are_left_alone_and_others_refused(sae, pages, capsys):
    stamp = (pages / "features.safetensors").stat().st_mtime_ns
    args = ["feature-pages", "--dictionary", str(sae), "--corpus", "toyworld", "--tokens", "4096", "--out", str(pages)]
    assert main([*args, "--examples-per-bin", "3"]) == 0
    assert "already in" in capsys.readouterr().out and (pages / "features.safetensors").stat().st_mtime_ns == stamp
    assert main([*args, "--examples-per-bin", "4"]) == 1  # other settings: not these pages
    err = capsys.readouterr().err
    assert "feature pages of other inputs" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (pages / "features.safetensors").stat().st_mtime_ns == stamp


def test_bad_outputs_and_inputs_are_one_line_errors(sae, pages, tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["feature-pages", "--dictionary", str(sae), "--cache", str(pages / "cache"), "--out",
                 str(foreign)]) == 1
    assert "notes.txt" in capsys.readouterr().err and (foreign / "notes.txt").read_text() == "keep me"
    assert not (foreign / "features.json").exists()
    with pytest.raises(SystemExit):  # a config error: argparse's usage error
        main(["feature-pages", "--dictionary", str(sae), "--cache", str(pages / "cache"), "--corpus", "toyworld",
              "--out", str(tmp_path / "x")])
    assert "not both" in capsys.readouterr().err
    cfg = json.loads((sae / "cfg.json").read_text())
    other = tmp_path / "other-hook"
    other.mkdir()
    cfg["metadata"]["hook_name"] = "blocks.1.mlp.hook_post"  # an SAE of a hook the cache does not hold
    (other / "cfg.json").write_text(json.dumps(cfg))
    (other / "sae_weights.safetensors").write_bytes((sae / "sae_weights.safetensors").read_bytes())
    assert main(["feature-pages", "--dictionary", str(other), "--cache", str(pages / "cache"), "--out",
                 str(tmp_path / "y")]) == 1
    assert "not the dictionary's hook blocks.1.mlp.hook_post" in capsys.readouterr().err
