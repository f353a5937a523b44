"""Turn a GGUF file (llama.cpp's format, often quantized) into an ordinary Hugging Face folder that interp loads.

transformers reads GGUF files of the architectures it knows (`GGUF_SUPPORTED_ARCHITECTURES`: llama, mistral, qwen2,
gemma2, phi3, gpt2, ...) and de-quantizes every tensor to the dtype asked for; here fp32. The model it builds is
marked quantized and refuses `save_pretrained`, so the folder is written from its config without the
`quantization_config` entry and its state dict, beside the tokenizer transformers reads from the same file.

A conversion is done once per file content: the folder is named by the file's sha256 under
`models_home() / "gguf"` and records the source file and its checksum (`interp-source.json`). It is built in a
temporary folder and renamed into place only when complete, so a failed or interrupted conversion leaves nothing
that later loads (and removes only its own temporary folder). A folder is replaced only when it carries that record,
the proof that a conversion made it: anything else at its path is refused before any work. Every failure is one
line naming the file and what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

SOURCE_FILE = "interp-source.json"
"""The record a converted folder carries: where its weights came from."""
GGUF_MAGIC = b"GGUF"


class GGUFError(ValueError):
    """A .gguf file that cannot become a model folder (truncated, not GGUF, an architecture not de-quantized)."""


class Converted(NamedTuple):
    """A converted folder and the file it came from."""

    folder: Path
    source: Path
    sha256: str
    architecture: str
    reused: bool
    """True when an earlier conversion of the same content was found."""


def models_home() -> Path:
    """Where downloaded and converted models live, outside any checkout: $INTERP_HOME/models, by default
    ~/.cache/interp/models."""
    home = os.environ.get("INTERP_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "interp") / "models"


def gguf_architecture(path: Path) -> str:
    """The `general.architecture` a GGUF file declares; a file that is not a complete GGUF file is a GGUFError."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise GGUFError(f"{path} is not a GGUF file (it does not start with 'GGUF'): give a .gguf model file")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
        field = reader.fields["general.architecture"]
        return bytes(field.parts[field.data[0]]).decode()
    except (KeyError, ValueError, IndexError, OSError) as e:  # a truncated file fails inside numpy's memmap
        raise GGUFError(f"{path} is not a complete GGUF file ({type(e).__name__}: {e}); download it again") from None


def supported_architectures() -> list[str]:
    """The GGUF architectures transformers de-quantizes."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return sorted(set(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"})  # sections, not architectures


def converted_folder(path: Path, sha256: str) -> Path:
    """Where the conversion of a file with this content lives."""
    return models_home() / "gguf" / f"{path.stem}-{sha256[:16]}"


def check_replaceable(folder: Path) -> None:
    """Refuse, before any work, a `folder` a conversion would replace that no conversion made: a file, or a folder
    with files but without the source record (a user's folder is never deleted)."""
    if folder.is_dir() and (folder / SOURCE_FILE).is_file() or not folder.exists():
        return
    if folder.is_dir() and not any(folder.iterdir()):
        return
    raise GGUFError(f"{folder} exists and is not a folder interp converted (no {SOURCE_FILE} in it); nothing was "
                    f"changed: move it away (or set INTERP_HOME to convert elsewhere), then run the command again")


def convert_gguf(path: str | Path, folder: Path | None = None, record: dict | None = None) -> Converted:
    """The Hugging Face folder of the GGUF file `path`, converted now or found from an earlier conversion of the same
    content. `folder` defaults to one named by the content under models_home()/gguf; `record` adds fields to the
    folder's source record (a fetched model's package and licence)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise GGUFError(f"{path} does not exist: give the path of a .gguf file")
    arch = gguf_architecture(path)
    if arch not in supported_architectures():
        raise GGUFError(f"{path} is a GGUF model of architecture {arch!r}, which transformers cannot de-quantize "
                        f"(it reads {', '.join(supported_architectures())}): convert it to a Hugging Face folder "
                        f"elsewhere and give that folder as --model")
    from .checkpoint import sha256_file  # torch: imported only when converting, so the CLI's parser stays light

    sha = sha256_file(path)
    folder = folder or converted_folder(path, sha)
    if _complete(folder, sha):
        return Converted(folder, path, sha, arch, True)
    check_replaceable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        _write_folder(path, tmp)
        (tmp / SOURCE_FILE).write_text(json.dumps(
            {"source": str(path), "sha256": sha, "architecture": arch, "dequantized_to": "float32", **(record or {})},
            indent=1))
        if folder.exists():  # an earlier conversion (it has the source record: check_replaceable) or empty
            shutil.rmtree(folder)
        for f in (tmp, *tmp.iterdir()):  # mkdtemp and safetensors make them private; a model is readable as any other
            f.chmod(0o755 if f.is_dir() else 0o644)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Converted(folder, path, sha, arch, False)


def _complete(folder: Path, sha: str) -> bool:
    record = folder / SOURCE_FILE
    if not record.is_file():
        return False
    try:
        return json.loads(record.read_text()).get("sha256") == sha and (folder / "config.json").is_file()
    except json.JSONDecodeError:
        return False


def _write_folder(path: Path, out: Path) -> None:
    """De-quantize `path` to fp32 and save model, config and tokenizer into `out` as safetensors."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    kw = dict(gguf_file=path.name, local_files_only=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), **kw)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), dtype=torch.float32, **kw)
    except Exception as e:  # transformers raises many types for files it cannot read
        raise GGUFError(f"{path}: transformers could not read it ({type(e).__name__}: {e}); the file may be "
                        f"damaged: download it again") from None
    # the weights are de-quantized fp32 now; marked quantized, save_pretrained would refuse to write them
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
