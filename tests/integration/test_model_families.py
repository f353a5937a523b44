"""Every architecture family the README's model table lists loads from a local folder, read from its config.json:
a tiny random model of each is built at test time (a real byte-level BPE tokenizer, nothing downloaded) and its
log-probs and MLP activations are compared with the transformers model's. The folder's path deliberately contains
"llama" and "gemma": TransformerLens guesses architectures from such text, interp must not."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import FAMILIES, bpe_tokenizer, tiny_model  # noqa: E402

from interp.models import UnknownModelError, load_model  # noqa: E402

OUT_PROJ = ("mlp.c_proj", "mlp.fc_out", "mlp.dense_4h_to_h", "fc2", "mlp.down_proj")
"""The MLP's output projection in each family: its input is what TransformerLens calls mlp.hook_post (for gated
MLPs act(gate) * up, the product the neurons of a gated MLP are)."""


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("my-llama-and-gemma-models")
    tok = bpe_tokenizer(root / "tok")
    return root, tok


def _mlp_input(hf, layer: int, tokens: torch.Tensor) -> torch.Tensor:
    mod = next(m for n, m in hf.named_modules() if re.search(rf"(layers|h)\.{layer}\.", n) and n.endswith(OUT_PROJ))
    seen = []
    handle = mod.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    with torch.no_grad():
        hf(tokens)
    handle.remove()
    return seen[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_from_its_config_and_matches_transformers(family, folders, one_torch_thread):
    from transformers import AutoModelForCausalLM

    root, tok = folders
    folder = tiny_model(family, root / f"{family}-model", tok)
    hf = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    tokens = torch.tensor([[0] + tok("Mary walked to the river, and John sang quietly. " * 5)["input_ids"][:80]])
    with torch.no_grad():
        ref = hf(tokens).logits.log_softmax(-1)
    post = _mlp_input(hf, 1, tokens)
    for processing in ("default", "none"):
        model = load_model(str(folder), weight_processing=processing)
        _, cache = model.run_with_cache(tokens, names_filter="blocks.1.mlp.hook_post")
        with torch.no_grad():
            lp = model(tokens).log_softmax(-1)
        assert (lp - ref).abs().max() < 1e-4, (family, processing)
        assert torch.allclose(cache["blocks.1.mlp.hook_post"], post, atol=1e-4), (family, processing)


def test_no_processing_keeps_the_checkpoints_residual_stream(folders):
    """--weight-processing none: hook_resid_post equals the transformers model's hidden state (default folds LN
    and centres, so it differs by the folded parts)."""
    from transformers import AutoModelForCausalLM

    root, tok = folders
    folder = tiny_model("gpt2", root / "resid-gpt2", tok)
    hf = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    tokens = torch.tensor([[0] + tok("The cat sat by the old bridge.")["input_ids"]])
    with torch.no_grad():
        hidden = hf(tokens, output_hidden_states=True).hidden_states[1]
    raw = load_model(str(folder), weight_processing="none")
    _, cache = raw.run_with_cache(tokens, names_filter="blocks.0.hook_resid_post")
    assert torch.allclose(cache["blocks.0.hook_resid_post"], hidden, atol=1e-5)
    _, cache = load_model(str(folder)).run_with_cache(tokens, names_filter="blocks.0.hook_resid_post")
    assert not torch.allclose(cache["blocks.0.hook_resid_post"], hidden, atol=1e-3)


def test_bad_model_folders_and_offline_names_are_one_line_errors(folders, monkeypatch):
    import shutil

    root, tok = folders
    bare = root / "no-tokenizer"
    shutil.copytree(tiny_model("gpt2", root / "gpt2-for-copy", tok), bare)
    for f in bare.iterdir():
        if "token" in f.name or f.name in ("vocab.json", "merges.txt", "special_tokens_map.json"):
            f.unlink()
    with pytest.raises(UnknownModelError, match="has no tokenizer"):
        load_model(str(bare))
    falcon = root / "falcon"
    from transformers import AutoModelForCausalLM, FalconConfig

    AutoModelForCausalLM.from_config(FalconConfig(hidden_size=64, num_hidden_layers=1, num_attention_heads=4,
                                                  vocab_size=len(tok))).save_pretrained(str(falcon))
    tok.save_pretrained(str(falcon))
    with pytest.raises(UnknownModelError, match=r"cannot convert this model \(FalconForCausalLM.*model table"):
        load_model(str(falcon))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnknownModelError, match=r"must be downloaded from the Hugging Face hub.*--model FOLDER") as e:
        load_model("gpt2")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown --weight-processing"):
        load_model("toy-gelu-s0", weight_processing="folded")


def test_tokens_print_readably(folders):
    from interp.models import token_strings

    root, tok = folders
    model = load_model(str(tiny_model("gpt2", root / "readable-gpt2", tok)))
    ids = tok(" walked quietly")["input_ids"]
    strs = token_strings(model, ids)
    assert "".join(strs) == " walked quietly" and not any("Ġ" in s for s in strs)
