"""The dictionary formats saes owns, registered with interp.dictionary (through the "interp.dictionary_formats"
entry point in pyproject.toml), so `interp.dictionary.load(folder)` opens them without interp importing saes.

- "saelens": cfg.json + sae_weights.safetensors (SAELens 6.x layout; ours and SAELens's own), read by saes.io;
- "snmf": snmf.json + snmf.safetensors, read by saes.snmf.dictionary;
- "sae_lens-pretrained": sae_lens:RELEASE/SAE_ID, one of SAELens's pretrained SAEs, fetched by sae_lens's own loader
  (needs the hub), read by saes.pretrained;
- "shipped": shipped:NAME or a folder of data/dictionaries (saes.shipped), a SAELens folder with a card whose
  checksums are checked before it is read (registered first, so a shipped folder given by its path is checked too).
"""

from __future__ import annotations

from pathlib import Path

from interp.dictionary import DictionaryFormat, DictionaryInfo, register_format
from interp.json_files import read_json


def _load_saelens(folder: Path, device: str):
    from saes.io import load

    return load(folder, device=device)


def _saelens_info(folder: Path) -> DictionaryInfo:
    from saes.io import read_info

    return read_info(folder)


def _is_saelens(folder: Path) -> bool:
    from saes.io import is_saelens_folder

    return is_saelens_folder(folder)


def _is_snmf(folder: Path) -> bool:
    from saes.snmf.dictionary import CONFIG, WEIGHTS

    return (folder / CONFIG).is_file() and (folder / WEIGHTS).is_file()


def _snmf_info(folder: Path) -> DictionaryInfo:
    from saes.snmf.dictionary import CONFIG

    meta = read_json(folder / CONFIG)
    recorded = {k: v for k, v in meta.items() if k not in ("kind", "hook_name", "d_in", "d_sae", "model")}
    return DictionaryInfo("snmf", "snmf", meta["hook_name"], int(meta["d_in"]), int(meta["d_sae"]),
                          meta.get("model"), str(folder), recorded=recorded)


def _load_snmf(folder: Path, device: str):
    from saes.snmf.dictionary import SNMF

    return SNMF.load(folder)


def _is_pretrained(spec: Path) -> bool:
    from saes.pretrained import PREFIX

    return str(spec).startswith(PREFIX)


def _pretrained_info(spec: Path) -> DictionaryInfo:
    from saes.pretrained import folder_of

    return _saelens_info(folder_of(str(spec)))


def _load_pretrained(spec: Path, device: str):
    from saes.pretrained import folder_of

    return _load_saelens(folder_of(str(spec)), device)


def _is_shipped(spec: Path) -> bool:
    from saes.shipped import PREFIX, is_shipped_folder

    return str(spec).startswith(PREFIX) or is_shipped_folder(spec)


def _shipped_info(spec: Path) -> DictionaryInfo:
    from dataclasses import replace

    from interp.provenance import ELSEWHERE
    from saes.shipped import ELSEWHERE_HINT, folder_of

    info = _saelens_info(folder_of(spec))
    return replace(info, recorded={**info.recorded, ELSEWHERE: ELSEWHERE_HINT})


def _load_shipped(spec: Path, device: str):
    from saes.shipped import folder_of

    return _load_saelens(folder_of(spec), device)


def register() -> None:
    """Register saes's formats with interp.dictionary (called by interp through the entry point)."""
    register_format(DictionaryFormat("shipped", _is_shipped, _shipped_info, _load_shipped))
    register_format(DictionaryFormat("saelens", _is_saelens, _saelens_info, _load_saelens))
    register_format(DictionaryFormat("snmf", _is_snmf, _snmf_info, _load_snmf))
    register_format(DictionaryFormat("sae_lens-pretrained", _is_pretrained, _pretrained_info, _load_pretrained))
