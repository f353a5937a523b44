"""Every place that builds or loads a model: the shipped toy models, TransformerLens names and local HF folders.

`load_model(name)` returns a TransformerLens `HookedTransformer` for
- a shipped toy model by name (`toy-gelu-s0` ... `toy-gelu-s3`, `toy-relu-s0`, see data/models/),
- a folder holding a toy model saved by `save_toy_model`,
- a local Hugging Face folder (config.json + weights + tokenizer) of an architecture TransformerLens converts,
  loaded offline through TransformerLens's own weight converter,
- any official TransformerLens model name (`gpt2`, `pythia-70m`, ...), which needs the model hub.

All loaded models get TransformerLens's standard weight processing (LayerNorm folding, centred writing weights and
unembedding, folded value biases), so hook values mean the same thing whichever way a model came in.
Keeping all of this in one file means the move from HookedTransformer to TransformerBridge (TransformerLens 4)
touches only this file.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .atomic import atomic_write
from .hub import ensure_offline_if_no_hub

warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402

DATA_DIR = Path(os.environ.get("INTERP_DATA", Path(__file__).resolve().parents[1] / "data"))
MODELS_DIR = DATA_DIR / "models"
TOY_MARKER = "interp-toy-model"
PROCESSING = dict(fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True)


class UnknownModelError(ValueError):
    """A model name that is neither shipped, nor a folder, nor a TransformerLens name."""


def shipped_models() -> list[str]:
    """Names of the toy models shipped in data/models (folders with a toy config.json)."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if _is_toy_folder(p))


def _is_toy_folder(path: Path) -> bool:
    cfg = path / "config.json"
    return cfg.is_file() and json.loads(cfg.read_text()).get("kind") == TOY_MARKER


def toy_config(act_fn: str = "gelu", seed: int = 0, d_vocab: int = 512, n_layers: int = 4, d_model: int = 128,
               n_heads: int = 4, d_mlp: int = 512, n_ctx: int = 128) -> HookedTransformerConfig:
    """Architecture of the toy models: a small GPT-2-style transformer with LayerNorm and learned positions."""
    return HookedTransformerConfig(
        n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_head=d_model // n_heads, d_mlp=d_mlp, n_ctx=n_ctx,
        d_vocab=d_vocab, act_fn=act_fn, normalization_type="LN", positional_embedding_type="standard",
        seed=seed, default_prepend_bos=True, init_weights=True)


_CFG_KEYS = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "n_ctx", "d_vocab", "act_fn",
             "normalization_type", "positional_embedding_type", "seed")


def save_toy_model(model: HookedTransformer, folder: str | Path, card: dict[str, Any] | None = None) -> Path:
    """Save unprocessed weights (safetensors), config, tokenizer and model card into `folder`, atomically per file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {k: getattr(model.cfg, k) for k in _CFG_KEYS}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.endswith(".IGNORE")
             and "mask" not in k}
    atomic_write(folder / "model.safetensors", lambda p: save_file(state, str(p)))
    atomic_write(folder / "config.json", lambda p: p.write_text(json.dumps({"kind": TOY_MARKER, "cfg": cfg}, indent=1)))
    if card is not None:
        atomic_write(folder / "card.json", lambda p: p.write_text(json.dumps(card, indent=1)))
    if model.tokenizer is not None:
        model.tokenizer.save_pretrained(str(folder / "tokenizer"))
    return folder


def load_toy_model(folder: str | Path, device: str = "cpu", process: bool = True) -> HookedTransformer:
    """Load a toy model folder; `process=False` keeps the raw trained weights (for resuming training)."""
    from transformers import PreTrainedTokenizerFast

    folder = Path(folder)
    cfg_dict = json.loads((folder / "config.json").read_text())["cfg"]
    cfg = toy_config(**{k: cfg_dict[k] for k in ("act_fn", "seed", "d_vocab", "n_layers", "d_model", "n_heads",
                                                  "d_mlp", "n_ctx")})
    tok = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
    model = HookedTransformer(cfg, tokenizer=tok, move_to_device=False)
    state = load_file(str(folder / "model.safetensors"))
    if process:
        model.load_and_process_state_dict(state, **PROCESSING)
    else:
        model.load_state_dict(state, strict=False)
    return model.to(device).eval()


def load_hf_folder(folder: str | Path, device: str = "cpu") -> HookedTransformer:
    """Load a local Hugging Face model folder offline, converting weights with TransformerLens's converters."""
    from transformer_lens import loading_from_pretrained as loading
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = str(_compatible_folder(Path(folder).resolve()))
    try:
        cfg = loading.get_pretrained_model_config(path, fold_ln=True, device=device)
    except Exception as e:  # TransformerLens raises bare errors for architectures it cannot convert
        raise UnknownModelError(f"{folder}: TransformerLens cannot convert this model ({e})") from e
    hf_model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    state = loading.get_pretrained_state_dict(path, cfg, hf_model)
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = HookedTransformer(cfg, tokenizer=tok, move_to_device=False)
    model.load_and_process_state_dict(state, **PROCESSING)
    return model.to(device).eval()


def _compatible_folder(folder: Path) -> Path:
    """`folder`, or a linked copy whose config.json has what TransformerLens 3.9 reads but transformers 5 omits.

    transformers 5 no longer writes GPT-2's `n_ctx` (it equals `n_positions`); TransformerLens 3.9's config
    converter still reads it. The user's folder is never modified: the copy links every other file.
    """
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("model_type") != "gpt2" or "n_ctx" in cfg:
        return folder
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="interp-hf-"))
    for f in folder.iterdir():
        if f.name != "config.json":
            (tmp / f.name).symlink_to(f)
    (tmp / "config.json").write_text(json.dumps({**cfg, "n_ctx": cfg.get("n_positions", 1024)}))
    return tmp


def load_model(name: str, device: str = "cpu") -> HookedTransformer:
    """A HookedTransformer for a shipped toy model, a model folder, or a TransformerLens model name."""
    if name in shipped_models():
        return load_toy_model(MODELS_DIR / name, device)
    path = Path(name).expanduser()
    if path.is_dir():
        if _is_toy_folder(path):
            return load_toy_model(path, device)
        if (path / "config.json").is_file():
            return load_hf_folder(path, device)
        raise UnknownModelError(f"{name} is a folder without config.json: it holds no model")
    from transformer_lens.loading_from_pretrained import get_official_model_name

    try:
        get_official_model_name(name)
    except ValueError:
        raise UnknownModelError(
            f"unknown model {name!r}. Shipped toy models: {', '.join(shipped_models()) or '(none found in '}"
            f"{'' if shipped_models() else str(MODELS_DIR) + ')'}; or give a local model folder, or a "
            f"TransformerLens model name such as gpt2 or pythia-70m (needs the model hub)") from None
    ensure_offline_if_no_hub()
    return HookedTransformer.from_pretrained(name, device=device, **PROCESSING).eval()


def hook_names(model: HookedTransformer) -> list[str]:
    """Every hook point name of `model`, in model order."""
    return list(model.hook_dict)


def check_hooks(model: HookedTransformer, hooks: list[str]) -> None:
    """Raise a clear error naming any unknown hook and listing the valid ones."""
    valid = set(model.hook_dict)
    bad = [h for h in hooks if h not in valid]
    if bad:
        raise ValueError(f"unknown hook(s) {', '.join(bad)}. Valid hooks of this model: {', '.join(model.hook_dict)}")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# ---- fused kernels ---------------------------------------------------------------------------------------------
# TransformerLens spells attention as q @ k / scale, a causal `where`, softmax, a NaN `where`, then pattern @ v (five
# passes over a [batch, head, pos, pos] tensor), and LayerNorm as mean, subtract, square, mean, add, sqrt, divide.
# On a CPU these memory-bound passes are about half of a small model's forward time. `fused_kernels(model)` swaps in
# torch's fused scaled_dot_product_attention and layer_norm for each standard causal attention layer and each
# LayerNorm / LayerNormPre, and every hook point still fires with the same values except the ones the fused kernels
# never materialise: hook_attn_scores, hook_pattern and the LayerNorms' hook_scale. So a module falls back to
# TransformerLens's own code, call by call, whenever a hook sits on one of those (run_with_cache without a names
# filter, pattern patching, RelP's LN- and AH-rules), or it is handed a padding mask or a position bias (a KV
# cache is fine: its keys and values are prepended and the causal mask is offset). Values differ from
# TransformerLens's by float rounding only (~1e-6 relative).

_FUSABLE_ARCHS = ("standard", "shortformer", "rotary")


def _hooked(point) -> bool:
    return bool(point._forward_hooks or point._forward_pre_hooks or point._backward_hooks)


def _fusable_attention(attn) -> bool:
    cfg = attn.cfg
    return (type(attn).__name__ == "Attention" and cfg.positional_embedding_type in _FUSABLE_ARCHS
            and (attn._attention_dir_override or cfg.attention_dir) == "causal"
            and not (cfg.use_attn_result or cfg.load_in_4bit or cfg.use_attention_sinks or cfg.use_logn_attn)
            and getattr(attn, "q_norm", None) is None and cfg.clip_qkv is None
            and (cfg.attn_scores_soft_cap or -1.0) <= 0)


def _fused_attention(attn, original, query_input, key_input, value_input, past_kv_cache_entry=None,
                     additive_attention_mask=None, attention_mask=None, position_bias=None):
    extras = (past_kv_cache_entry, additive_attention_mask, attention_mask, position_bias)
    if any(x is not None for x in extras[1:]) or _hooked(attn.hook_attn_scores) or _hooked(attn.hook_pattern):
        return original(query_input, key_input, value_input, *extras)
    q, k, v = attn.calculate_qkv_matrices(query_input, key_input, value_input)  # [batch, pos, head, d_head] each
    offset, mask = 0, None
    if past_kv_cache_entry is not None:  # queries are positions offset.. of a prompt whose earlier keys are cached
        offset = past_kv_cache_entry.past_keys.shape[1]
        k, v = past_kv_cache_entry.append(k, v)  # [batch, offset + pos, head, d_head]
        q_pos = torch.arange(offset, offset + q.shape[1], device=q.device)
        mask = torch.arange(k.shape[1], device=q.device)[None, :] <= q_pos[:, None]  # [pos, offset + pos], causal
    if attn.cfg.positional_embedding_type == "rotary":
        q, k = attn.hook_rot_q(attn.apply_rotary(q, offset, None)), attn.hook_rot_k(attn.apply_rotary(k, 0, None))
    z = torch.nn.functional.scaled_dot_product_attention(  # [batch, head, pos, d_head]
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask, is_causal=mask is None,
        scale=1.0 / attn.attn_scale)
    z = attn.hook_z(z.transpose(1, 2))  # [batch, pos, head, d_head]
    w_O = attn.W_O.reshape(-1, attn.W_O.shape[-1]).T  # [head, d_head, d_model] -> [d_model, head * d_head]
    return torch.nn.functional.linear(z.reshape(*z.shape[:2], -1), w_O, attn.b_O)  # z: [batch, pos, head * d_head]


def _fused_layer_norm(ln, original, x):
    if _hooked(ln.hook_scale) or x.dtype not in (torch.float32, torch.float64):
        return original(x)
    # (x - mean) / sqrt(mean((x - mean)^2) + eps): TransformerLens's formula, in one kernel
    y = ln.hook_normalized(torch.nn.functional.layer_norm(x, x.shape[-1:], eps=ln.eps))
    return y * ln.w + ln.b if type(ln).__name__ == "LayerNorm" else y


def _fusions(model: HookedTransformer):
    for module in model.modules():
        kind = type(module).__name__
        if kind in ("LayerNorm", "LayerNormPre") and hasattr(module, "hook_scale"):
            yield module, _fused_layer_norm
        elif kind == "Attention" and hasattr(module, "hook_pattern") and _fusable_attention(module):
            yield module, _fused_attention


@contextlib.contextmanager
def fused_kernels(model: HookedTransformer, enabled: bool = True):
    """Within the block, attention and LayerNorms of `model` run as fused kernels (see above); yields how many
    modules were swapped."""
    swapped = [(m, fn) for m, fn in _fusions(model) if enabled and "forward" not in vars(m)]  # not yet swapped
    for m, fn in swapped:
        m.forward = functools.partial(fn, m, m.forward)
    try:
        yield len(swapped)
    finally:
        for m, _ in swapped:
            del m.forward  # back to the class's method
