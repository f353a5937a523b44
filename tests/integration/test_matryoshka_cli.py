"""`interp train-sae --arch matryoshka --prefixes` and `interp eval-sae` for real on toy-gelu-s0: a SAELens
matryoshka_batchtopk folder, eval.json's sparse_probing and absorption against the toy world's labels, and bad
--prefixes as one line naming the option."""

from __future__ import annotations

import json

import pytest

from apps.cli import main
from saes import io

HOOK = "blocks.1.mlp.hook_post"


def test_train_and_eval_matryoshka(tmp_path, capsys):
    sweep = tmp_path / "m"
    assert main(["train-sae", "--model", "toy-gelu-s0", "--hook", HOOK, "--arch", "matryoshka", "batchtopk",
                 "--prefixes", "16,64", "--d-sae", "64", "128", "--k", "8", "--tokens", "4096", "--batch-size", "512",
                 "--eval", "false", "--progress", "false", "--out", str(sweep)]) == 0
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [
        "batchtopk-d128-k8-s0", "batchtopk-d64-k8-s0", "matryoshka-d128-k8-s0", "matryoshka-d64-k8-s0"]
    assert json.loads((sweep / "matryoshka-d64-k8-s0" / "cfg.json").read_text())["matryoshka_widths"] == [16, 64]
    out = sweep / "matryoshka-d128-k8-s0"
    cfg = json.loads((out / "cfg.json").read_text())
    assert cfg["architecture"] == "matryoshka_batchtopk" and cfg["matryoshka_widths"] == [16, 64, 128]
    sae = io.load(out)
    assert sae.cfg.arch == "matryoshka" and sae.cfg.prefixes == [16, 64, 128] and sae.threshold > 0

    assert main(["eval-sae", "--sae", str(out), "--tokens", "3072", "--ground-truth-tokens", "3072"]) == 0
    report = json.loads((out / "eval.json").read_text())
    probing = report["sparse_probing"]
    assert probing["ks"] == [1, 2, 5, 10] and probing["concepts"] and probing["skipped"]  # rare concepts: skipped
    assert all("training and" in why for why in probing["skipped"].values())  # with their counts
    some = next(iter(probing["concepts"].values()))
    assert {"1", "2", "5", "10"} <= set(some["sae"]) and {"1", "2", "5", "10"} <= set(some["neurons"])
    assert 0 <= some["sae"]["1"]["f1"] <= 1 and len(some["latents"]) == 10
    for who in ("sae", "neurons"):
        assert all(0 < v <= 1 for v in probing["mean_f1"][who].values())
    absorption = report["absorption"]
    assert absorption["thresholds"]["probe_cos"] == 0.025 and absorption["thresholds"]["projection_share"] == 0.4
    assert "category:animal" in absorption["parents"] or "category:animal" in absorption["skipped"]
    rates = [p["rate"] for p in absorption["parents"].values()]
    assert rates and all(0 <= r <= 1 for r in rates) and 0 <= absorption["mean_rate"] <= 1
    assert all(p["probe_f1"] >= 0.6 for p in absorption["parents"].values())


@pytest.mark.parametrize("prefixes, says", [
    (["64,32"], "--prefixes 64,32 is not increasing"),
    (["16,256"], "--prefixes 16,256 has a prefix of 256 latents, more than --d-sae 128"),
    ([], "--prefixes is empty"),
])
def test_bad_prefixes_are_one_line(prefixes, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train-sae", "--arch", "matryoshka", "--d-sae", "128", "--k", "8", "--prefixes", *prefixes,
              "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("interp: error")]
    assert len(err) == 1 and says in err[0] and "e.g. --prefixes 128,512,2048" in err[0], err
    assert not (tmp_path / "x").exists()
