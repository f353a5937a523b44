"""SAELens's pretrained SAEs by release and id: `sae_lens:RELEASE/SAE_ID` wherever a dictionary folder is taken.

sae_lens's own loader (`SAE.from_pretrained`, which knows every release's layout and converter) fetches the SAE from
the hub; it is then written once in SAELens's folder format under the user cache (~/.cache/interp/sae_lens/...) and
opened like any SAE folder, so it keeps its recorded model and hook. Without the hub the spec is a one-line error
saying how to bring the SAE over as a folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

PREFIX = "sae_lens:"
CACHE = Path(os.environ.get("INTERP_CACHE", Path.home() / ".cache" / "interp")) / "sae_lens"


def parse(spec: str) -> tuple[str, str]:
    """(release, sae_id) of "sae_lens:RELEASE/SAE_ID" (the id may contain slashes)."""
    release, _, sae_id = spec.removeprefix(PREFIX).partition("/")
    if not release or not sae_id:
        raise ValueError(f"{spec!r}: write a SAELens pretrained SAE as {PREFIX}RELEASE/SAE_ID, e.g. "
                         f"{PREFIX}gpt2-small-res-jb/blocks.8.hook_resid_pre")
    return release, sae_id


def folder_of(spec: str) -> Path:
    """The local SAELens-format folder of a pretrained SAE, fetched through sae_lens when not there yet."""
    release, sae_id = parse(spec)
    folder = CACHE / re.sub(r"[^\w.-]+", "_", release) / re.sub(r"[^\w.-]+", "_", sae_id)
    if (folder / "cfg.json").is_file():
        return folder
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ValueError(f"{spec} is a SAELens pretrained SAE, which must be downloaded from the Hugging Face hub, "
                         f"not reachable here. Where the hub is reachable run SAE.from_pretrained({release!r}, "
                         f"{sae_id!r}) and sae.save_model(FOLDER), then give that FOLDER instead")
    from sae_lens import SAE

    try:
        sae = SAE.from_pretrained(release, sae_id, device="cpu")
    except Exception as e:  # sae_lens raises many types for unknown releases and ids or a failed download
        raise ValueError(f"sae_lens could not load {release}/{sae_id}: {type(e).__name__}: {e}") from None
    folder.mkdir(parents=True, exist_ok=True)
    sae.save_model(str(folder))
    return folder
