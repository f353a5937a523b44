"""Every place that builds or loads a model: the shipped toy models, fetched models, TransformerLens names and local
HF folders.

`load_model(name)` returns a TransformerLens `HookedTransformer` for
- a shipped toy model by name (`toy-gelu-s0` ... `toy-gelu-s3`, `toy-relu-s0`, see data/models/),
- a real model installed by `interp models fetch NAME` (`smollm2-135m`; interp.model_fetch), by its name,
- a .gguf file, converted once into a Hugging Face folder (interp.gguf_convert),
- a folder holding a toy model saved by `save_toy_model`,
- a local Hugging Face folder (config.json + weights + tokenizer) of an architecture TransformerLens converts,
  loaded offline through TransformerLens's own weight converter,
- any official TransformerLens model name (`gpt2`, `pythia-70m`, ...), which needs the model hub.

`weight_processing="default"` applies TransformerLens's standard processing (LayerNorm weights folded into the
next layer, centred writing weights and unembedding, folded value biases), so hook values mean the same thing
whichever way a model came in; "none" keeps the checkpoint's weights, so hooks equal the Hugging Face model's.
Keeping all of this in one file means the move from HookedTransformer to TransformerBridge (TransformerLens 4)
touches only this file.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from jaxtyping import Float, Int
from torch import Tensor

from .atomic import atomic_write
from .hub import ensure_offline_if_no_hub
from .json_files import read_json
from .safetensors_io import read_tensors, write_tensors
from .text_check import count_unknown, unknown_message, unknown_words
from .text_check import unknown_token_id as unknown_token_id  # its earlier home: imports from here keep working

warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
from transformer_lens import HookedTransformer, HookedTransformerConfig  # noqa: E402

DATA_DIR = Path(os.environ.get("INTERP_DATA", Path(__file__).resolve().parents[1] / "data"))
MODELS_DIR = DATA_DIR / "models"
TOY_MARKER = "interp-toy-model"
PROCESSING = {"default": dict(fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True),
              "none": dict(fold_ln=False, center_writing_weights=False, center_unembed=False, fold_value_biases=False)}
"""TransformerLens's weight processing per --weight-processing choice."""


class UnknownModelError(ValueError):
    """A model name that is neither shipped, nor a folder, nor a TransformerLens name."""


def shipped_models() -> list[str]:
    """Names of the toy models shipped in data/models (folders with a toy config.json)."""
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if _is_toy_folder(p))


def _is_toy_folder(path: Path) -> bool:
    cfg = path / "config.json"
    return cfg.is_file() and read_json(cfg).get("kind") == TOY_MARKER


def toy_config(act_fn: str = "gelu", seed: int = 0, d_vocab: int = 512, n_layers: int = 4, d_model: int = 128,
               n_heads: int = 4, d_mlp: int = 512, n_ctx: int = 128,
               positional_embedding_type: str = "standard", gated_mlp: bool = False,
               normalization_type: str = "LN") -> HookedTransformerConfig:
    """Architecture of the toy models: a small GPT-2-style transformer with LayerNorm and learned positions
    ("standard", the toy1 models) or rotary positions on every query / key dimension ("rotary", the toy2 models);
    the dReLU models have a gated MLP and RMSNorm (interp.mlp_variants)."""
    rotary = {"rotary_dim": d_model // n_heads} if positional_embedding_type == "rotary" else {}
    return HookedTransformerConfig(
        n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_head=d_model // n_heads, d_mlp=d_mlp, n_ctx=n_ctx,
        d_vocab=d_vocab, act_fn=act_fn, normalization_type=normalization_type, gated_mlp=gated_mlp,
        positional_embedding_type=positional_embedding_type, seed=seed, default_prepend_bos=True, init_weights=True,
        **rotary)


_CFG_KEYS = ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "n_ctx", "d_vocab", "act_fn",
             "normalization_type", "positional_embedding_type", "seed", "gated_mlp")


def save_toy_model(model: HookedTransformer, folder: str | Path, card: dict[str, Any] | None = None,
                   world: str | None = None) -> Path:
    """Save unprocessed weights (safetensors), config (with the toy world the model was trained on: `world`, by
    default the world of the model's tokenizer, and the MLP variant interp.mlp_variants applied), tokenizer and model
    card into `folder`, atomically per file."""
    from .mlp_variants import VARIANT_KEY, variant_of
    from .worlds import world_name_of

    world = world or world_name_of(model.tokenizer)
    if world is None:
        raise ValueError("save_toy_model needs a toy-world tokenizer (toy1's or toy2's) or world=... to record")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {k: getattr(model.cfg, k) for k in _CFG_KEYS}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not k.endswith(".IGNORE")
             and "mask" not in k}
    atomic_write(folder / "model.safetensors", lambda p: write_tensors(p, state))
    meta = {"kind": TOY_MARKER, "world": world, "cfg": cfg, **({VARIANT_KEY: variant_of(model)} if variant_of(model)
                                                               else {})}
    atomic_write(folder / "config.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    if card is not None:
        atomic_write(folder / "card.json", lambda p: p.write_text(json.dumps(card, indent=1)))
    if model.tokenizer is not None:
        model.tokenizer.save_pretrained(str(folder / "tokenizer"))
    return folder


def load_toy_model(folder: str | Path, device: str = "cpu", weight_processing: str = "default") -> HookedTransformer:
    """Load a toy model folder (weights processed as `weight_processing` says); its tokenizer is checked against the
    vocabulary of the toy world the folder records (`LEGACY_WORLD` when it records none: the first models); the MLP
    variant it records (dReLU, FATReLU) is applied again."""
    from .mlp_variants import VARIANT_KEY, apply_variant
    from .worlds import LEGACY_WORLD, get_world

    folder = Path(folder)
    meta = read_json(folder / "config.json")
    cfg_dict = meta["cfg"]
    cfg = toy_config(**{k: cfg_dict[k] for k in ("act_fn", "seed", "d_vocab", "n_layers", "d_model", "n_heads",
                                                  "d_mlp", "n_ctx", "positional_embedding_type")},
                     gated_mlp=cfg_dict.get("gated_mlp", False), normalization_type=cfg_dict.get("normalization_type",
                                                                                                 "LN"))
    tok = get_world(meta.get("world", LEGACY_WORLD)).load_tokenizer(folder / "tokenizer")
    model = HookedTransformer(cfg, tokenizer=tok, move_to_device=False)
    state = read_tensors(folder / "model.safetensors", "toy model weights")
    load_processed(model, state, weight_processing)
    apply_variant(model, **meta.get(VARIANT_KEY, {}))  # after processing: it rebuilds the norms and the hook dict
    return model.to(device).eval()


def load_hf_folder(folder: str | Path, device: str = "cpu", weight_processing: str = "default") -> HookedTransformer:
    """Load a local Hugging Face model folder offline: its architecture and config read from config.json
    (interp.hf_configs), its weights converted by TransformerLens's converters."""
    from transformer_lens import loading_from_pretrained as loading
    from transformers import AutoModelForCausalLM

    from .hf_configs import architecture_of, neutral_folder, tl_config

    folder = Path(folder).expanduser().resolve()
    if not any(folder.glob("*.safetensors")):
        pickled = sorted(p.name for p in [*folder.glob("*.bin"), *folder.glob("*.pt")])
        only = f" (only {', '.join(pickled)})" if pickled else ""
        raise UnknownModelError(f"{folder} holds no .safetensors weights{only}: interp loads safetensors only and "
                                f"never unpickles weights; convert the folder with "
                                f"model.save_pretrained(folder, safe_serialization=True)")
    tok = _tokenizer(folder)
    path = neutral_folder(folder)
    arch = architecture_of(folder)
    try:
        cfg = tl_config(path, _processing(weight_processing)["fold_ln"], device)
    except Exception as e:  # TransformerLens raises bare errors for architectures it cannot convert
        raise UnknownModelError(f"{folder}: TransformerLens cannot convert this model ({arch}: {e}). The README's "
                                f"model table lists the architectures that load") from None
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor "Loading weights" bars: noise beside our own progress
    hf_model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    state = loading.get_pretrained_state_dict(str(path), cfg, hf_model)
    model = HookedTransformer(cfg, tokenizer=tok, move_to_device=False)
    load_processed(model, state, weight_processing)
    return model.to(device).eval()


def load_processed(model: HookedTransformer, state: dict[str, Float[Tensor, "*shape"]],
                   weight_processing: str = "default") -> None:
    """TransformerLens's load_and_process_state_dict, with its processed weights loaded in one load_state_dict call:
    TransformerLens loads them one key at a time, and each call walks every module (SmolLM2: 574 keys x ~940
    modules, ~60% of its load time). The same processing and the same parameters (non-strict, as it loads)."""
    if model.cfg.load_in_4bit:  # TransformerLens assigns quantised parameters in one call already
        model.load_and_process_state_dict(state, **_processing(weight_processing))
        return
    collected: dict[str, Tensor] = {}
    model.load_state_dict = lambda part, strict=True, assign=False: collected.update(part)  # on the instance
    try:
        model.load_and_process_state_dict(state, **_processing(weight_processing))
    finally:
        del model.load_state_dict  # the class's method again
    model.load_state_dict(collected, strict=False)


def _tokenizer(folder: Path):
    """The folder's tokenizer; a folder without one is a clear error (text cannot be tokenised for it)."""
    from transformers import AutoTokenizer

    files = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")
    if not any((folder / f).is_file() for f in files):
        raise UnknownModelError(f"{folder} has no tokenizer (none of {', '.join(files)}): save the tokenizer into the "
                                f"folder too (tokenizer.save_pretrained(folder))")
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # transformers raises many types for tokenizer files it cannot read
        raise UnknownModelError(f"{folder}: its tokenizer files cannot be read ({type(e).__name__}: {e})") from None


def _processing(weight_processing: str) -> dict[str, bool]:
    if weight_processing not in PROCESSING:
        raise ValueError(f"unknown --weight-processing {weight_processing!r}; valid: {', '.join(PROCESSING)}")
    return PROCESSING[weight_processing]


def model_folder(name: str) -> Path | None:
    """The folder `name` loads from: a shipped toy model's, a fetched model's (`interp models fetch`), the conversion
    of a .gguf file, or a folder given as a path; None for a hub name. A fetchable model not fetched yet is an error
    naming the fetch command."""
    from .model_fetch import FETCHABLE, require_fetched

    if name in shipped_models():
        return MODELS_DIR / name
    if name in FETCHABLE:
        return require_fetched(name)
    path = Path(name).expanduser()
    if path.suffix == ".gguf" and not path.is_dir():
        from .gguf_convert import convert_gguf

        return convert_gguf(path).folder
    return path if path.is_dir() else None


def n_layers(name: str) -> int:
    """How many blocks model `name` has, read from its folder's config.json when it has one (no weights loaded)."""
    folder = model_folder(name)
    if folder is not None and (folder / "config.json").is_file():
        cfg = read_json(folder / "config.json")
        cfg = cfg.get("cfg", cfg)  # a toy model nests its TransformerLens config
        for key in ("n_layers", "num_hidden_layers", "n_layer", "num_layers"):
            if isinstance(cfg.get(key), int):
                return cfg[key]
    return load_model(name).cfg.n_layers


MIDDLE_LAYER = -1
"""The default of every layer option: the model's middle layer (`resolve_layer`)."""


def resolve_layer(layer: int, name: str, option: str = "--layer") -> int:
    """`layer` of model `name`, or for MIDDLE_LAYER (-1) its middle layer, n_layers // 2 (read from its config.json
    when it has one, so no weights are loaded): real models keep their most interpretable features mid-depth, and a
    fixed default layer is wrong for most models (missing on a 2-layer one, shallow on a 30-layer one). A layer the
    model does not have is an error naming `option`."""
    n = n_layers(name)
    resolved = n // 2 if layer == MIDDLE_LAYER else layer
    if not 0 <= resolved < n:
        raise ValueError(f"{option} {layer} is out of range: {name} has layers 0..{n - 1} (leave {option} out for "
                         f"its middle layer, {n // 2})")
    return resolved


def model_fingerprint(name: str) -> str:
    """What `name` loads, for deciding whether an artifact made with it is still current: for a shipped toy model, a
    fetched or converted model or a local folder, an xxh3 of its config.json, card.json and interp-source.json
    (retraining, or a name now given to another model, changes them) and of its weight files' contents (a weight
    changed in place changes it; each file's digest is cached by interp.file_digests, so the 517 MB of SmolLM2 are
    hashed once per version); for a hub model, the name itself."""
    import xxhash

    from .corpus_files import fingerprint_files
    from .file_digests import file_digest

    folder = model_folder(name)
    if folder is None or not (folder / "config.json").is_file():
        return name
    files = [p for p in (folder / f for f in ("config.json", "card.json", "interp-source.json")) if p.is_file()]
    weights = ",".join(f"{p.name}:{file_digest(p)}" for p in sorted(folder.glob("*.safetensors")))
    return xxhash.xxh3_64_hexdigest(f"{fingerprint_files(files)} {weights}".encode())


def load_model(name: str, device: str = "cpu", weight_processing: str = "default") -> HookedTransformer:
    """A HookedTransformer for a shipped toy model, a fetched model (smollm2-135m), a model folder, a .gguf file or a
    TransformerLens model name."""
    _processing(weight_processing)
    path = model_folder(name)
    if path is not None:
        if _is_toy_folder(path):
            return load_toy_model(path, device, weight_processing)
        if (path / "config.json").is_file():
            return load_hf_folder(path, device, weight_processing)
        raise UnknownModelError(f"{name} is a folder without config.json: it holds no model")
    from transformer_lens.loading_from_pretrained import get_official_model_name

    from .model_fetch import FETCHABLE

    try:
        official = get_official_model_name(name)
    except ValueError:
        raise UnknownModelError(
            f"unknown model {name!r}. Shipped toy models: {', '.join(shipped_models()) or '(none found in '}"
            f"{'' if shipped_models() else str(MODELS_DIR) + ')'}; fetchable: {', '.join(FETCHABLE)} (interp models "
            f"fetch NAME); or give a local model folder or .gguf file, or a "
            f"TransformerLens model name such as gpt2 or pythia-70m (needs the model hub)") from None
    ensure_offline_if_no_hub()
    try:
        return HookedTransformer.from_pretrained(name, device=device, **_processing(weight_processing)).eval()
    except OSError:  # offline, or the hub refused: transformers' error is a long traceback
        raise UnknownModelError(
            f"{name} ({official}) must be downloaded from the Hugging Face hub, which is not reachable here. "
            f"Download it where the hub is reachable (huggingface-cli download {official} --local-dir FOLDER) and "
            f"give that folder as --model FOLDER") from None


def hook_names(model: HookedTransformer) -> list[str]:
    """Every hook point name of `model`, in model order."""
    return list(model.hook_dict)


def check_hooks(model: HookedTransformer, hooks: list[str]) -> None:
    """Raise a clear error naming any unknown hook and listing the valid ones."""
    valid = set(model.hook_dict)
    bad = [h for h in hooks if h not in valid]
    if bad:
        raise ValueError(f"unknown hook(s) {', '.join(bad)}. Valid hooks of this model: {', '.join(model.hook_dict)}")



def prompt_tokens(model: HookedTransformer, text: str, what: str = "the prompt", room: int = 0,
                  room_what: str = "--max-new-tokens", warn: bool = True) -> Int[Tensor, " pos"]:
    """Token row [pos] of `text` as the model reads it (BOS first where the model prepends one). A text longer than
    the model's context, or too long to leave `room` tokens to generate (named `room_what`), is a clear error;
    words the tokenizer does not know (they become its unknown token, as out-of-vocabulary words do for the toy
    models) are named in a warning rather than passing silently."""
    tokens = model.to_tokens(text, truncate=False)[0]  # TransformerLens would cut it to n_ctx silently
    if len(tokens) > model.cfg.n_ctx:
        raise ValueError(f"{what} is {len(tokens)} tokens long, more than the model's context of {model.cfg.n_ctx}: "
                         f"shorten it")
    if len(tokens) + room > model.cfg.n_ctx:  # generating past the context fails deep in the model
        raise ValueError(f"{what} ({len(tokens)} tokens) plus {room_what} {room} is more than the model's context of "
                         f"{model.cfg.n_ctx}: give {room_what} <= {model.cfg.n_ctx - len(tokens)} or shorten {what}")
    if warn and (message := prompt_unknown(model, text, tokens, what)):
        warnings.warn(message, stacklevel=2)
    return tokens


def prompt_unknown(model: HookedTransformer, text: str, tokens, what: str = "the prompt") -> str:
    """One line naming the words of `text` (tokens [pos]) the tokenizer does not know, or "" when it knows them
    all: any unknown word of a prompt is named (one word of a short prompt is already a large share)."""
    count = count_unknown(model.tokenizer, [tokens.tolist()])
    if not count.unknown:
        return ""
    return unknown_message(count, what, model.tokenizer, "use words of the model's vocabulary",
                           unknown_words(model.tokenizer, text))


def token_strings(model: HookedTransformer, ids) -> list[str]:
    """Readable text of each token id (a byte-level BPE token shows as " editing", not "Ġediting")."""
    ids = [int(i) for i in ids]
    if model.tokenizer is None:
        return [str(i) for i in ids]
    return model.tokenizer.batch_decode([[i] for i in ids], clean_up_tokenization_spaces=False)

