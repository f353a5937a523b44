"""`interp steer` and `interp steer-bench` end to end on toy-gelu-s0 (real model, real SAE / SNMF folders)."""

from __future__ import annotations

import json

import pytest
import torch

from apps.cli import main
from interp import dictionary
from interp.steering import load_steering
from interp.steering.benchmark import concept_token_ids


def _tiny_sae(model, folder, hook="blocks.2.mlp.hook_post", arch="topk", steps=30):
    """A small SAE trained for a few steps with the saes Python API, saved in SAELens format."""
    from saes import build_sae, sae_config
    from saes.io import save

    toks = model.to_tokens(["The cat saw the red ball .", "Mary gave the cup to John ."] * 4)
    _, cache = model.run_with_cache(toks, names_filter=[hook])
    x = cache[hook].reshape(-1, model.cfg.d_mlp).detach()
    k = 4 if arch == "topk" else None
    sae = build_sae(sae_config(d_in=model.cfg.d_mlp, d_sae=64, hook_name=hook, arch=arch, k=k,
                              model_name="toy-gelu-s0"))
    opt = torch.optim.Adam(sae.parameters(), lr=1e-3)
    for _ in range(steps):
        loss = sae.loss(x).total
        opt.zero_grad()
        loss.backward()
        sae.before_optimizer_step()
        opt.step()
        sae.after_optimizer_step()
    save(sae, folder)
    return sae


def test_steer_prints_generations_and_writes_an_artifact(tmp_path, capsys):
    out = tmp_path / "s"
    rc = main(["steer", "--model", "toy-gelu-s0", "--neuron", "2:5", "--alpha", "12", "--prompt", "The cat",
               "--max-new-tokens", "6", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and "base:" in text and "steered:" in text and "promoted" in text and "suppressed" in text
    vecs, meta = load_steering(out)
    assert meta["schema_version"] == 1 and meta["config"]["neuron"] == "2:5" and meta["vectors"][0]["alpha"] == 12
    assert vecs[0].hook == "blocks.2.mlp.hook_post" and int(vecs[0].direction.argmax()) == 5


def test_steer_with_a_dictionary_folder_and_kl_target(tmp_path, capsys, toy_model):
    sae = _tiny_sae(toy_model, tmp_path / "sae", steps=2)
    d = dictionary.load(tmp_path / "sae")
    assert d.hook_name == "blocks.2.mlp.hook_post" and torch.allclose(d.feature_directions(), sae.W_dec.detach())
    rc = main(["steer", "--dictionary", str(tmp_path / "sae"), "--feature", "3", "--kl-target", "0.1",
               "--max-new-tokens", "4"])
    assert rc == 0 and "calibrated alpha" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--dictionary", "SAE", "--feature", "64", "--alpha", "1"], "valid indices 0..63"),
    (["--hook", "blocks.7.hook_resid_post", "--feature", "0", "--alpha", "1"], "Valid hooks of this model"),
    (["--neuron", "1:3", "--kl-target", "40", "--alpha-max", "0.5"], "unreachable"),
    (["--neuron", "1:3"], "exactly one of --alpha and --kl-target"),
])
def test_bad_input_gives_one_clear_line(tmp_path, capsys, toy_model, args, message):
    if "SAE" in args:
        _tiny_sae(toy_model, tmp_path / "sae", steps=1)
        args = [str(tmp_path / "sae") if a == "SAE" else a for a in args]
    try:
        rc = main(["steer", *args, "--max-new-tokens", "2"])
    except SystemExit as e:  # option validation exits through argparse
        rc = e.code
    err = capsys.readouterr().err
    assert rc != 0 and message in err and "Traceback" not in err


@pytest.mark.parametrize("world", ["toy1", "toy2"])
def test_concept_tokens(world, toy_model, toy1_model):
    model = {"toy1": toy1_model, "toy2": toy_model}[world]
    ids = set(concept_token_ids("gender:female", world).tolist())
    assert model.to_single_token("she") in ids and model.to_single_token("Mary") in ids
    assert model.to_single_token("he") not in ids
    with pytest.raises(KeyError, match="valid"):
        concept_token_ids("colour:plaid", world)


@pytest.mark.slow
def test_steer_bench_end_to_end(tmp_path, toy_model):
    from saes.snmf.dictionary import SNMF

    _tiny_sae(toy_model, tmp_path / "sae")
    F = torch.relu(torch.randn(512, 8, generator=torch.Generator().manual_seed(0)))
    SNMF(F, "blocks.2.mlp.hook_post").save(tmp_path / "snmf")
    out = tmp_path / "bench"
    rc = main(["steer-bench", "--dictionaries", str(tmp_path / "sae"), str(tmp_path / "snmf"), "--concepts",
               "gender:female", "category:animal", "--n-docs", "8", "--gen-tokens", "3", "--out", str(out),
               "--figure", str(tmp_path / "docs" / "steering.html")])
    assert rc == 0
    res = json.loads((out / "bench.json").read_text())
    assert res["schema_version"] == 1 and res["settings"]["kl_budget"] == 0.5
    methods = {r["method"] for r in res["rows"]}
    assert methods == {"sae:topk", "sae:topk+outfilter", "snmf", "neuron@L2", "diffmeans@blocks.2.mlp.hook_post"}
    assert len(res["rows"]) == 2 * len(methods) and (out / "figure.html").is_file()
    for page in (out / "figure.html", tmp_path / "docs" / "steering.html"):  # both open offline
        assert (page.parent / "plotly.min.js").is_file() and "cdn.plot.ly" not in page.read_text()
    # every direction is scaled to the KL budget (or marked as not reaching it), and the score is the change in the
    # concept tokens' probability mass. (Whether it is positive is the benchmark's finding, not a given: on toy1
    # models difference-in-means toward gender:female raised that mass, on the toy2 models it lowers it; see
    # data/models/README.md.)
    for r in res["rows"]:
        o = r["outcome"]
        assert (o["kl"] <= 0.5 * 1.05 or not o["reached"]) and o["alpha"] > 0, r  # unreachable: flagged, kept
        assert abs(o["delta_mass"] - (o["mass_steered"] - o["mass_base"])) < 1e-9 and 0 <= o["mass_base"] <= 1
    assert set(res["summary"]["claims"]) == {"snmf_vs_sae", "snmf_vs_diffmeans", "outfilter_vs_unfiltered"}
