"""`interp workspace build` on a researcher's own model and text finishes: steps that need the toy world are
recorded as skipped with the reason, the rest run on the user's corpus; and a rebuild with changed settings
rebuilds what those settings produced instead of keeping it and claiming the new settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import bpe_tokenizer, tiny_model, write_corpus  # noqa: E402

from apps.cli import main  # noqa: E402

TINY = ["--layer", "1", "--cache-tokens", "4096", "--sae-tokens", "4096", "--sae-batch-size", "512", "--d-sae", "64",
        "--k", "4", "--snmf-k", "6", "--snmf-tokens", "1024", "--neuron-tokens", "1024", "--ioi-prompts", "2",
        "--examples-per-bin", "2", "--archs", "relu", "topk"]


def _single_token_words(tok, words):
    return [w for w in words if len(tok(" " + w)["input_ids"]) == 1]


def test_workspace_of_a_user_model_finishes_and_says_what_it_skipped(tmp_path, one_torch_thread):
    corpus = write_corpus(tmp_path / "text", n_lines=800, seed=2)
    tok = bpe_tokenizer(tmp_path / "tok", corpus)
    model = tiny_model("gpt2", tmp_path / "my-gpt2", tok)
    a, b, c = _single_token_words(tok, ["cat", "dog", "bird", "fish", "river", "forest"])[:3]
    task = tmp_path / "pairs.jsonl"
    # not (a, b) and (b, a): their clean and corrupted means would be equal, a degenerate task the build refuses
    rows = [{"clean": f"The old {x} walked to the", "corrupted": f"The old {y} walked to the", "answer": " river",
             "wrong": " forest"} for x, y in [(a, b), (a, c)]]
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    root = tmp_path / "ws"
    assert main(["workspace", "build", "--model", str(model), "--corpus", str(corpus), "--task", str(task),
                 "--out", str(root), *TINY]) == 0
    ws = json.loads((root / "workspace.json").read_text())
    steps = ws["steps"]
    assert steps["steering"]["status"] == "skipped" and "toy" in steps["steering"]["reason"]
    assert steps["universal"]["status"] == "skipped" and "--universal-models" in steps["universal"]["reason"]
    for step in ("cache", "saes", "snmf", "features", "neurons", "patching"):
        assert steps[step]["status"] == "built", (step, steps[step])
    manifest = json.loads((root / "cache" / "manifest.json").read_text())
    assert manifest["model"] == str(model) and manifest["corpus"]["source"] == str(corpus.resolve())
    pages = json.loads((root / "features" / "sae-topk" / "features.json").read_text())
    assert not Path(pages["path"]).is_absolute()  # inside the workspace: the explorer opens it from any folder
    assert not any("Ġ" in t for t in pages["vocab"])  # readable tokens, no byte-level markers
    assert (root / "neurons" / "my-gpt2" / "stats.json").is_file()
    neuron_pages = json.loads((root / "neurons" / "my-gpt2" / "examples.json").read_text())
    assert neuron_pages["corpus"]["source"] == str(corpus.resolve())  # the user's text, never toy-world token ids
    assert neuron_pages["corpus"]["split"] == "heldout" and neuron_pages["weight_processing"] == "default"


def test_changed_settings_rebuild_what_they_produced(tmp_path, one_torch_thread):
    root = tmp_path / "ws"
    base = ["workspace", "build", "--out", str(root), "--steps", "cache", "saes", *TINY]
    assert main(base) == 0
    first = json.loads((root / "workspace.json").read_text())["steps"]
    assert main(base) == 0  # unchanged: up to date
    again = json.loads((root / "workspace.json").read_text())["steps"]
    assert again["cache"]["status"] == again["saes"]["status"] == "up to date"
    assert main([*base, "--cache-tokens", "8192"]) == 0
    changed = json.loads((root / "workspace.json").read_text())["steps"]
    assert changed["cache"]["status"] == "built" and changed["cache"]["settings"]["cache_tokens"] == 8192
    assert changed["saes"]["status"] == "built"  # the SAEs read the cache: rebuilt too
    manifest = json.loads((root / "cache" / "manifest.json").read_text())
    assert sum(s["n_tokens"] for s in manifest["shards"]) >= 8192
    assert first["cache"]["settings"]["cache_tokens"] == 4096


def test_the_layer_defaults_to_the_models_middle_and_a_layer_it_lacks_is_one_line(tmp_path, capsys, one_torch_thread):
    """A 2-layer model: without --layer the workspace reads its middle layer (1); --layer 2 names --layer and the
    model's layers, and leaves no folder behind."""
    corpus = write_corpus(tmp_path / "text", n_lines=400, seed=3)
    model = tiny_model("gpt2", tmp_path / "two-layers", bpe_tokenizer(tmp_path / "tok", corpus))
    small = [a for a in TINY if a not in ("--layer", "1")]
    args = ["workspace", "build", "--model", str(model), "--corpus", str(corpus), "--steps", "cache", *small]
    assert main([*args, "--layer", "2", "--out", str(tmp_path / "bad")]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("interp:")]
    assert len(err) == 1 and "--layer 2 is out of range" in err[0] and "0..1" in err[0]
    assert not (tmp_path / "bad").exists()
    assert main([*args, "--out", str(tmp_path / "ws")]) == 0
    manifest = json.loads((tmp_path / "ws" / "cache" / "manifest.json").read_text())
    assert manifest["hooks"] == ["blocks.1.mlp.hook_post"]


def test_without_single_token_names_the_patching_step_is_skipped_with_its_reason(tmp_path, one_torch_thread):
    """A model whose vocabulary has no single-token first names and no --task: the build finishes, recording why
    IOI patching was skipped, instead of failing after the other steps."""
    plain = tiny_model("gpt2", tmp_path / "plain")  # its tokenizer splits the names into several tokens
    corpus = write_corpus(tmp_path / "text", n_lines=200, seed=4)
    root = tmp_path / "ws"
    assert main(["workspace", "build", "--model", str(plain), "--corpus", str(corpus), "--steps", "patching",
                 "--out", str(root), *TINY]) == 0
    step = json.loads((root / "workspace.json").read_text())["steps"]["patching"]
    assert step["status"] == "skipped" and "single tokens of this model" in step["reason"]
    assert "--task" in step["reason"]


def test_a_rebuild_without_model_or_corpus_reuses_what_the_workspace_records(tmp_path, capsys, one_torch_thread):
    """The explorer's repair hint (`workspace build --out WS --steps cache --force cache`) rebuilds a user's
    workspace on its own model and text, not on toy-gelu-s0; another --model on that folder names both."""
    corpus = write_corpus(tmp_path / "text", n_lines=300, seed=5)
    model = tiny_model("gpt2", tmp_path / "mine", bpe_tokenizer(tmp_path / "tok", corpus))
    root = tmp_path / "ws"
    small = [a for a in TINY if a not in ("--layer", "1")]
    assert main(["workspace", "build", "--model", str(model), "--corpus", str(corpus), "--steps", "cache",
                 "--weight-processing", "none", "--out", str(root), *small]) == 0
    assert main(["workspace", "build", "--out", str(root), "--steps", "cache", "--force", "cache", *small]) == 0
    manifest = json.loads((root / "cache" / "manifest.json").read_text())
    assert manifest["model"] == str(model) and manifest["corpus"]["source"] == str(corpus.resolve())
    assert manifest["weight_processing"] == "none"
    capsys.readouterr()
    assert main(["workspace", "build", "--model", "toy-gelu-s0", "--out", str(root), "--steps", "cache"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("interp:")]
    assert len(err) == 1 and "toy-gelu-s0" in err[0] and str(model) in err[0]
