"""TransformerLens configs read from a local Hugging Face folder's config.json, never from the folder's path.

TransformerLens 3.9 converts most architectures from the Hugging Face config (GPT-2, GPT-Neo, GPT-J, GPT-NeoX /
Pythia, OPT, Bloom, Llama, Mistral, Qwen2, Qwen3, Phi-3, ...), but it decides some of them from the *name* of the
model: any path containing "llama" is taken for one of Meta's official Llamas, and Gemma 1/2/3 and OLMo 2 exist
only as hard-coded official sizes. `tl_config(folder)` therefore
- hands TransformerLens a neutral path (a temporary folder of links to the user's files, `neutral_folder`), so the
  path text decides nothing, and
- builds the config of Gemma 1/2/3 and OLMo 2 itself from config.json (`_DERIVED`), with the same fields
  TransformerLens's official configs use, so its own weight converters load them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from interp.json_files import read_json

UNSUPPORTED = {
    "Gemma3ForConditionalGeneration": "multimodal Gemma 3 checkpoints are not language-only models; use a text-only "
                                      "Gemma 3 (Gemma3ForCausalLM)",
}
"""Architectures we refuse by name, with the reason (see the README's model table)."""


def neutral_folder(folder: Path) -> Path:
    """A temporary folder named "model" linking every file of `folder` (config.json patched where TransformerLens
    3.9 needs a field transformers 5 no longer writes: GPT-2's n_ctx). The user's folder is never modified."""
    cfg = read_json(folder / "config.json")
    tmp = Path(tempfile.mkdtemp(prefix="interp-hf-")) / "model"
    tmp.mkdir()
    for f in folder.iterdir():
        if f.name != "config.json":
            (tmp / f.name).symlink_to(f.resolve())
    if cfg.get("model_type") == "gpt2" and "n_ctx" not in cfg:
        cfg["n_ctx"] = cfg.get("n_positions", 1024)
    (tmp / "config.json").write_text(json.dumps(cfg))
    return tmp


def _layer_types(hf, n_layers: int) -> list[str]:
    """"local" / "global" per layer from transformers' layer_types (sliding vs full attention)."""
    types = getattr(hf, "layer_types", None)
    if types:
        return ["local" if "sliding" in t else "global" for t in types]
    pattern = getattr(hf, "sliding_window_pattern", 2)  # older configs: every pattern-th layer is global
    return ["global" if (i + 1) % pattern == 0 else "local" for i in range(n_layers)]


def _common(hf) -> dict[str, Any]:
    n_heads = hf.num_attention_heads
    d_head = getattr(hf, "head_dim", None) or hf.hidden_size // n_heads
    kv = getattr(hf, "num_key_value_heads", n_heads)
    return {"d_model": hf.hidden_size, "d_head": d_head, "n_heads": n_heads, "d_mlp": hf.intermediate_size,
            "n_layers": hf.num_hidden_layers, "n_ctx": hf.max_position_embeddings, "eps": hf.rms_norm_eps,
            "d_vocab": hf.vocab_size, "normalization_type": "RMS", "positional_embedding_type": "rotary",
            "rotary_dim": d_head, "rotary_base": _rope_theta(hf), "gated_mlp": True, "final_rms": True,
            "n_key_value_heads": kv if kv != n_heads else None, "initializer_range": hf.initializer_range}


def _rope_theta(hf, key: str = "rope_theta") -> float:
    params = getattr(hf, "rope_parameters", None) or {}
    if isinstance(params, dict) and "full_attention" in params:  # per layer type (Gemma 3 in transformers 5)
        params = params["full_attention"]
    return float(getattr(hf, key, None) or params.get("rope_theta", 10000.0))


def _gemma(hf) -> dict[str, Any]:
    act = getattr(hf, "hidden_activation", None) or hf.hidden_act
    d = _common(hf)
    scalar = float(getattr(hf, "query_pre_attn_scalar", None) or d["d_head"])
    d.update(act_fn=act, use_attn_scale=True, attn_scale=scalar ** 0.5)
    return d


def _gemma2(hf) -> dict[str, Any]:
    d = _gemma(hf)
    d.update(window_size=hf.sliding_window, use_local_attn=True, attn_types=_layer_types(hf, d["n_layers"]),
             attn_scores_soft_cap=hf.attn_logit_softcapping or -1.0,
             output_logits_soft_cap=hf.final_logit_softcapping or -1.0, use_normalization_before_and_after=True)
    return d


def _gemma3(hf) -> dict[str, Any]:
    d = _gemma(hf)
    params = getattr(hf, "rope_parameters", None) or {}
    local = getattr(hf, "rope_local_base_freq", None) or (params.get("sliding_attention") or {}).get("rope_theta")
    d.update(window_size=hf.sliding_window, use_local_attn=True, attn_types=_layer_types(hf, d["n_layers"]),
             use_normalization_before_and_after=True, use_qk_norm=True, rotary_base_local=float(local or 10000.0))
    return d


def _olmo2(hf) -> dict[str, Any]:
    d = _common(hf)
    if d["n_key_value_heads"] is not None:
        raise ValueError("OLMo 2 with grouped-query attention (num_key_value_heads < num_attention_heads): "
                         "TransformerLens 3.9's OLMo 2 weight converter supports full multi-head attention only")
    d.update(act_fn=hf.hidden_act, attn_types=["global"] * d["n_layers"], final_rms=False)
    return d


_DERIVED = {"GemmaForCausalLM": _gemma, "Gemma2ForCausalLM": _gemma2, "Gemma3ForCausalLM": _gemma3,
            "Olmo2ForCausalLM": _olmo2}


def architecture_of(folder: Path) -> str:
    cfg = read_json(folder / "config.json")
    archs = cfg.get("architectures") or []
    return archs[0] if archs else str(cfg.get("model_type", "?"))


def tl_config(path: Path, fold_ln: bool, device: str):
    """The HookedTransformerConfig of the model in `path` (a neutral folder), from its config.json."""
    from transformer_lens import HookedTransformerConfig
    from transformer_lens import loading_from_pretrained as loading
    from transformers import AutoConfig

    arch = architecture_of(path)
    if arch in UNSUPPORTED:
        raise ValueError(f"{arch} is not supported: {UNSUPPORTED[arch]}")
    if arch not in _DERIVED:
        return loading.get_pretrained_model_config(str(path), fold_ln=fold_ln, device=device)
    hf = AutoConfig.from_pretrained(str(path), local_files_only=True)
    d = _DERIVED[arch](hf)
    d = {k: v for k, v in d.items() if v is not None}
    if fold_ln:
        d["normalization_type"] = "RMSPre"
    d.update(original_architecture=arch, model_name=path.name, tokenizer_name=str(path), init_weights=False,
             device=device, dtype=torch.float32, default_prepend_bos=True, n_devices=1, from_checkpoint=False)
    return HookedTransformerConfig.from_dict(d)
