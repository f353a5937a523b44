"""`interp dictionaries ship` on a real sweep of toy-gelu-s0 (TopK, JumpReLU, BatchTopK and Matryoshka, trained here in
seconds): the shipped folders (float16 SAELens weights that SAELens and interp load, eval.json, card, README), the
`shipped:` spec, the numbers it evaluates when eval.json lacks them, and its refusals (another model, a changed file,
a folder it did not write, the 100 MiB budget, a model others cannot load)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from apps.cli import main
from saes import io
from saes.io import read_info
from saes.shipped import ENV, audit, shipped

NAMES = ("topk-d64-k4-s0", "jumprelu-d64-l0c0.05-s0", "batchtopk-d64-k4-s0", "matryoshka-d64-k4-s0")
HOOK = "blocks.2.mlp.hook_post"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A four-SAE sweep of toy-gelu-s0's middle MLP, with eval.json."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("trained") / "sweep"
    assert main(["train-sae", "--arch", "topk", "jumprelu", "batchtopk", "matryoshka", "--d-sae", "64", "--k", "4",
                 "--tokens", "4096", "--batch-size", "256", "--eval-tokens", "1024", "--progress", "false",
                 "--out", str(out)]) == 0
    return out


def _ship(sweep: Path, root: Path, *extra: str) -> int:
    return main(["dictionaries", "ship", "--sae", str(sweep), "--out", str(root), "--device", "cpu", *extra])


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("interp: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def root(sweep, tmp_path_factory):
    """The sweep shipped into a folder of its own (do not modify: copy it)."""
    root = tmp_path_factory.mktemp("shipped") / "dictionaries"
    assert _ship(sweep, root, "--trained-with", "interp train-sae --arch topk jumprelu ...") == 0
    return root


def test_a_shipped_sweep_has_cards_and_loads_in_saelens_and_interp(sweep, root, monkeypatch, capsys):
    assert audit(root) == []
    found = {s.name: s for s in shipped(where=root)}
    assert set(found) == set(NAMES)
    for name in NAMES:
        s, source = found[name], sweep / name
        folder = root / "toy-gelu-s0" / HOOK / name
        assert s.folder == folder and sorted(p.name for p in folder.iterdir()) == [
            "README.md", "card.json", "cfg.json", "eval.json", "sae_weights.safetensors"]
        trained = json.loads((source / "eval.json").read_text())
        card = s.card
        assert card["model"]["model"] == "toy-gelu-s0" and card["model"]["model_fingerprint"] == trained[
            "model_fingerprint"]
        assert card["kind"] == name.split("-")[0] == read_info(folder).arch  # a kind saved in another's form too
        assert (folder / "cfg.json").read_text() == (source / "cfg.json").read_text()
        assert card["hook"] == HOOK and card["d_sae"] == 64 and card["seed"] == 0 and card["tokens_trained"] == 4096
        assert card["metrics"] == {k: trained[k] for k in ("l0", "r2", "ce_loss_recovered", "dead_fraction")}
        assert card["sparse_probing"]["mean_f1"] == trained["sparse_probing"]["mean_f1"]
        assert card["absorption"]["mean_rate"] == trained["absorption"]["mean_rate"]
        assert card["trained_with"] == "interp train-sae --arch topk jumprelu ..."
        assert card["evaluation"]["source"] == "the trained folder's eval.json"
        assert f"shipped:toy-gelu-s0/{HOOK}/{name}" in (folder / "README.md").read_text()
        with safe_open(folder / "sae_weights.safetensors", "pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
        assert json.loads((folder / "cfg.json").read_text())["dtype"] == "float32"
        ours = io.load(source)
        import sae_lens

        loader = card["storage"]["saelens_loader"]  # SAE.load_from_disk, or TrainingSAE's for a training format
        assert loader == ("TrainingSAE.load_from_disk" if name.startswith("matryoshka") else "SAE.load_from_disk")
        theirs = getattr(sae_lens, loader.split(".")[0]).load_from_disk(str(folder), device="cpu")
        assert theirs.W_dec.dtype == torch.float32
        assert torch.allclose(theirs.W_dec.detach(), ours.W_dec.detach().float(), atol=2e-3, rtol=1e-3)
    monkeypatch.setenv(ENV, str(root))
    from interp.dictionary import load

    x = torch.randn(16, 512)
    shipped_sae, trained_sae = load(f"shipped:{NAMES[0]}"), io.load(sweep / NAMES[0])
    assert torch.allclose(shipped_sae.decode(shipped_sae.encode(x)), trained_sae.decode(trained_sae.encode(x)),
                          atol=0.05, rtol=0.02)
    assert main(["dictionaries", "list", "--model", "toy-gelu-s0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all("shipped, converged: 4,096 tokens" in ln for ln in lines)
    assert {ln.split()[0] for ln in lines} == {f"shipped:toy-gelu-s0/{HOOK}/{n}" for n in NAMES}


def test_numbers_eval_json_lacks_are_evaluated_on_the_shipped_weights(sweep, tmp_path):
    source = tmp_path / "trained" / NAMES[0]
    shutil.copytree(sweep / NAMES[0], source)
    report = json.loads((source / "eval.json").read_text())
    del report["absorption"]
    report["r2"] = None
    (source / "eval.json").write_text(json.dumps(report))
    assert _ship(source, tmp_path / "shipped", "--eval-tokens", "1024") == 0
    card = shipped(where=tmp_path / "shipped")[0].card
    assert card["evaluation"]["source"] == "evaluated at shipping on the float16 weights"
    assert card["metrics"]["r2"] == pytest.approx(json.loads((sweep / NAMES[0] / "eval.json").read_text())["r2"],
                                                  abs=0.01)
    assert card["absorption"]["mean_rate"] is not None and card["absorption"]["parents"]
    assert "sparse_probing" in card and card["trained_with"].startswith("interp train-sae --model toy-gelu-s0 --hook "
                                                                        f"{HOOK} --arch topk --d-sae 64 --k 4")


def test_another_model_and_a_changed_file_are_one_line_errors(root, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "dictionaries"
    shutil.copytree(root, copy)
    monkeypatch.setenv(ENV, str(copy))
    spec = f"shipped:{NAMES[0]}"
    assert main(["eval-sae", "--sae", spec, "--model", "toy-relu-s0", "--out", str(tmp_path / "e.json")]) == 1
    err = _error(capsys)
    assert "--model toy-relu-s0" in err and "records the model toy-gelu-s0" in err and "leave --model out" in err
    assert "`interp dictionaries list --model toy-relu-s0` lists the dictionaries shipped for it" in err
    assert main(["eval-sae", "--sae", "shipped:no-such", "--out", str(tmp_path / "e.json")]) == 1
    assert "no shipped dictionary is named shipped:no-such" in _error(capsys)
    weights = copy / "toy-gelu-s0" / HOOK / NAMES[0] / "sae_weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-2] ^= 1
    weights.write_bytes(bytes(data))
    for given in (spec, str(weights.parent)):  # by its spec or by its folder: checked before it is read
        assert main(["eval-sae", "--sae", given, "--out", str(tmp_path / "e.json")]) == 1
        assert f"{weights} does not match its card's checksum" in _error(capsys)
    assert len(audit(copy)) == 1 and "does not match its card's checksum" in audit(copy)[0]
    assert not (tmp_path / "e.json").exists()


def test_shipping_never_replaces_what_it_did_not_make_nor_passes_the_budget(sweep, root, tmp_path, capsys):
    copy = tmp_path / "dictionaries"
    shutil.copytree(root, copy)
    target = copy / "toy-gelu-s0" / HOOK / NAMES[0]
    card = (target / "card.json").read_text()
    assert _ship(sweep, copy, "--only", NAMES[0]) == 1
    assert "is already shipped; nothing was overwritten. Pass --overwrite" in _error(capsys)
    assert _ship(sweep, copy, "--only", NAMES[0], "--overwrite", "true") == 0
    assert json.loads((target / "card.json").read_text())["shipped_from"] == json.loads(card)["shipped_from"]
    capsys.readouterr()
    (target / "notes.txt").write_text("mine")
    assert _ship(sweep, copy, "--only", NAMES[0], "--overwrite", "true") == 1
    assert "did not write (notes.txt)" in _error(capsys) and (target / "notes.txt").read_text() == "mine"
    big = tmp_path / "big"
    big.mkdir()
    with open(big / "other.bin", "wb") as f:  # a real (sparse) file of 99.9 MiB already in the folder
        f.truncate(int(99.9 * 2**20))
    assert _ship(sweep, big, "--only", NAMES[0]) == 1
    assert "over its budget of 100 MiB; nothing was shipped" in _error(capsys)
    assert sorted(p.name for p in big.iterdir()) == ["other.bin"]
    foreign = tmp_path / "foreign" / NAMES[0]
    shutil.copytree(sweep / NAMES[0], foreign)
    raw = json.loads((foreign / "cfg.json").read_text())
    raw["metadata"]["model_name"] = str(tmp_path / "my-model")
    (foreign / "cfg.json").write_text(json.dumps(raw))
    assert _ship(foreign, tmp_path / "out") == 1
    assert "which others cannot load" in _error(capsys) and not (tmp_path / "out").exists()
    assert _ship(tmp_path / "nothing-here", tmp_path / "out") == 1
    assert "is not a folder" in _error(capsys)


def test_a_shipping_stopped_midway_is_undone_by_the_next(sweep, root, tmp_path, capsys):
    copy = tmp_path / "dictionaries"
    shutil.copytree(root, copy)
    target = copy / "toy-gelu-s0" / HOOK / NAMES[1]
    aside = target.parent / f".{NAMES[1]}.old.tmp"
    target.rename(aside)  # stopped between moving the old folder aside and moving the new one in
    (copy / ".ship-12345.tmp" / "0").mkdir(parents=True)  # and its staging folder left behind
    assert _ship(sweep, copy, "--only", NAMES[1]) == 1  # the old folder is back, so shipping it again is refused
    assert "is already shipped" in _error(capsys)
    assert not aside.exists() and not (copy / ".ship-12345.tmp").exists() and audit(copy) == []

