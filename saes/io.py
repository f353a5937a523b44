"""SAELens on-disk format: a folder with cfg.json and sae_weights.safetensors (sae_lens 6.x layout).

`save` writes our SAEs so that `sae_lens.SAE.load_from_disk(folder)` loads them, each as the SAELens architecture its
kind names (saes.registry; a kind saved in another form, such as BatchTopK as a JumpReLU, says so through its
`saelens_state` and `saelens_cfg_fields`). The activation scale is folded into the weights. Our training settings
travel in metadata["interp"] so a round trip restores them.
`load` reads SAELens-format folders (ours or SAELens's, including its training saves with
rescale_acts_by_decoder_norm or apply_b_dec_to_input=false, which are folded into the weights exactly) into our
classes. Only safetensors are read, never pickles. Writes go to temporary files moved into place with os.replace.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import Tensor

from interp.atomic import atomic_write
from interp.dictionary import DictionaryInfo
from interp.json_files import read_json
from interp.safetensors_io import read_tensors, write_tensors
from saes import BaseSAE, build_sae
from saes.config import SAEConfig, sae_config
from saes.registry import kind, saelens_arch

CFG_FILENAME = "cfg.json"
WEIGHTS_FILENAME = "sae_weights.safetensors"


def _sae_lens_version() -> str:
    try:
        from importlib.metadata import version

        return version("sae-lens")
    except Exception:  # sae-lens not installed: claim the format version we write
        return "6.54.12"


def saelens_cfg(sae: BaseSAE) -> dict:
    """The cfg.json dict SAELens 6.x expects for this SAE's inference architecture."""
    cfg = sae.cfg
    version = _sae_lens_version()
    interp = {"arch": cfg.arch, **cfg.arch_fields(), "unit_norm_decoder": cfg.unit_norm_decoder}
    metadata = {
        **cfg.metadata,
        "sae_lens_version": version,
        "sae_lens_training_version": version,
        "hook_name": cfg.hook_name,
        "model_name": cfg.model_name,
        "interp": interp,
    }
    out = {
        "d_in": cfg.d_in,
        "d_sae": cfg.d_sae,
        "dtype": cfg.dtype,
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": metadata,
        "architecture": kind(cfg.arch).saelens_save,
    }
    return {**out, **sae.saelens_cfg_fields()}


def save(sae: BaseSAE, folder: str | Path) -> Path:
    """Write cfg.json + sae_weights.safetensors in SAELens format (act_scale folded in); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = sae.saelens_state()
    names = type(sae).SAELENS_NAMES
    state = {names.get(k, k): v.detach().to("cpu").contiguous() for k, v in state.items()}
    cfg = saelens_cfg(sae)
    atomic_write(folder / WEIGHTS_FILENAME, lambda p: write_tensors(p, state))
    atomic_write(folder / CFG_FILENAME, lambda p: p.write_text(json.dumps(cfg, indent=2)))
    return folder


def _read_cfg(folder: Path) -> dict:
    if not folder.is_dir():
        raise FileNotFoundError(f"SAE folder not found: {folder}")
    for name in (CFG_FILENAME, WEIGHTS_FILENAME):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name} is missing (a SAELens SAE folder needs {CFG_FILENAME} and {WEIGHTS_FILENAME})"
            )
    return read_json(folder / CFG_FILENAME, "the SAE folder is damaged: copy it again or train it again")


def _read_weights(path: Path) -> dict[str, Tensor]:
    return read_tensors(path, "SAE weights")


def _config_from_saelens(raw: dict, device: str, dtype: str | None) -> tuple[SAEConfig, dict]:
    arch = saelens_arch(raw)
    meta = dict(raw.get("metadata") or {})
    interp = meta.pop("interp", None) or {}
    norm = raw.get("normalize_activations", "none")
    if norm == "expected_average_only_in":
        warnings.warn(
            "normalize_activations='expected_average_only_in' with no folded scale: loading the weights "
            "as they are (SAELens does the same for SAEs loaded from disk)",
            stacklevel=3,
        )
    elif norm not in ("none", None, False):
        raise ValueError(f"normalize_activations={norm!r} is per-token and cannot be folded; supported: none")
    cls = kind(arch).config
    from_saelens = cls.saelens_fields(raw)  # what SAELens's own fields say wins over our recorded copy
    extra = {f: v for f, v in interp.items() if f not in ("arch", "k", *from_saelens)}  # our training settings
    for key in ("sae_lens_version", "sae_lens_training_version", "hook_name", "model_name"):
        meta.pop(key, None)
    cfg = sae_config(
        arch,
        strict=False,
        d_in=int(raw["d_in"]),
        d_sae=int(raw["d_sae"]),
        **from_saelens,
        hook_name=(raw.get("metadata") or {}).get("hook_name") or raw.get("hook_name") or raw.get("hook_point") or "",
        model_name=(raw.get("metadata") or {}).get("model_name") or raw.get("model_name"),
        dtype=dtype or raw.get("dtype", "float32"),
        device=device,
        metadata=meta,
        **extra,
    )
    return cfg, raw


def _sae_class(cfg: SAEConfig) -> type[BaseSAE]:
    return kind(cfg.arch).sae


def _expected_shapes(cfg: SAEConfig) -> dict[str, tuple[int, ...]]:
    shapes = {
        "W_enc": (cfg.d_in, cfg.d_sae),
        "b_enc": (cfg.d_sae,),
        "W_dec": (cfg.d_sae, cfg.d_in),
        "b_dec": (cfg.d_in,),
    }
    return {**shapes, **_sae_class(cfg).saelens_extra_shapes(cfg)}


def _check_shapes(state: dict[str, Tensor], cfg: SAEConfig, path: Path) -> None:
    expected = _expected_shapes(cfg)
    missing = [k for k in expected if k not in state]
    if missing:
        raise ValueError(f"{path} lacks tensors {missing} needed by a {cfg.arch} SAE (has {sorted(state)})")
    for name, shape in expected.items():
        if tuple(state[name].shape) != shape:
            raise ValueError(
                f"{path}: {name} has shape {tuple(state[name].shape)} but cfg.json (d_in={cfg.d_in}, "
                f"d_sae={cfg.d_sae}) implies {shape}"
            )


@torch.no_grad()
def _fold_saelens_options(state: dict[str, Tensor], raw: dict, cls: type[BaseSAE]) -> None:
    """Fold apply_b_dec_to_input=false and rescale_acts_by_decoder_norm=true into the weights (exact)."""
    if not raw.get("apply_b_dec_to_input", True):
        cls.fold_b_dec_into_input(state)
    if raw.get("rescale_acts_by_decoder_norm", False):
        norm_F = state["W_dec"].norm(dim=-1).clamp_min(1e-8)
        state["W_enc"] = state["W_enc"] * norm_F
        state["b_enc"] = state["b_enc"] * norm_F
        state["W_dec"] = state["W_dec"] / norm_F[:, None]


def load(folder: str | Path, device: str = "cpu", dtype: str | None = None) -> BaseSAE:
    """Load a SAELens-format SAE folder into our class for its architecture, in eval mode."""
    folder = Path(folder)
    raw = _read_cfg(folder)
    try:
        cfg, raw = _config_from_saelens(raw, device, dtype)
    except KeyError as e:
        raise ValueError(f"{folder / CFG_FILENAME} lacks the key {e}") from e
    cls = _sae_class(cfg)
    disk_names = {v: k for k, v in cls.SAELENS_NAMES.items()}
    state = {disk_names.get(k, k): v.to(torch.float64) for k, v in _read_weights(folder / WEIGHTS_FILENAME).items()}
    _check_shapes(state, cfg, folder / WEIGHTS_FILENAME)
    _fold_saelens_options(state, raw, cls)
    unknown = set(state) - set(_expected_shapes(cfg))
    if unknown:
        warnings.warn(f"{folder / WEIGHTS_FILENAME}: ignoring tensors {sorted(unknown)}", stacklevel=2)
    cls.from_saelens_state(state)
    sae = build_sae(cfg)
    own = sae.state_dict()
    sae.load_state_dict({k: state[k].to(own[k].dtype) for k in own})
    return sae.to(device).eval()


def is_saelens_folder(folder: Path) -> bool:
    return (folder / CFG_FILENAME).is_file() and (folder / WEIGHTS_FILENAME).is_file()


def read_info(folder: str | Path) -> DictionaryInfo:
    """What a SAELens-format folder holds, from cfg.json alone: the trained architecture (ours record it in
    metadata["interp"], so a batchtopk saved in its jumprelu form is still "batchtopk"), hook, sizes, model."""
    folder = Path(folder)
    raw = _read_cfg(folder)
    meta = raw.get("metadata") or {}
    arch = (meta.get("interp") or {}).get("arch") or saelens_arch(raw)
    hook = meta.get("hook_name") or raw.get("hook_name") or raw.get("hook_point") or ""
    try:
        d_in, d_sae = int(raw["d_in"]), int(raw["d_sae"])
    except KeyError as e:
        raise ValueError(f"{folder / CFG_FILENAME} lacks the key {e}") from None
    recorded = {k: v for k, v in meta.items() if k not in ("interp", "sae_lens_version", "sae_lens_training_version",
                                                             "hook_name", "model_name")}
    return DictionaryInfo("sae", arch, hook, d_in, d_sae, meta.get("model_name") or raw.get("model_name"),
                          str(folder), recorded=recorded)
