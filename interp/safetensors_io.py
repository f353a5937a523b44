"""Reading tensors from disk: safetensors only, with one clear error for a file that is not one.

Every weight, checkpoint and artifact file the workbench reads goes through `read_tensors` / `read_arrays`. A file
that is not safetensors (a pickle such as PyTorch's .pt / .bin, a truncated or damaged file) is reported as such and
never unpickled; the message says what to do instead of suggesting `torch.load(weights_only=False)`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from jaxtyping import Shaped
from torch import Tensor

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05", b"PK\x03\x04")
"""Starts of pickle protocols 2-5 and of the zip files torch.save writes."""


def _not_safetensors(path: Path, what: str, err: Exception) -> ValueError:
    head = path.read_bytes()[:4] if path.is_file() else b""
    kind = ("a pickle (e.g. torch.save output), which interp never unpickles" if head.startswith(PICKLE_MAGIC)
            else f"not a readable safetensors file ({type(err).__name__}: {err})")
    return ValueError(f"{path} ({what}) is {kind}; write it with safetensors (safetensors.torch.save_file, or "
                      f"save_pretrained(..., safe_serialization=True)) or rebuild it with the command that makes it")


def read_tensors(path: str | Path, what: str = "weights") -> dict[str, Shaped[Tensor, "*shape"]]:
    """Every tensor of a safetensors file, on the CPU."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} ({what}) is missing")
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types for damaged or foreign files
        raise _not_safetensors(path, what, e) from None


def read_arrays(path: str | Path, what: str = "arrays") -> dict[str, Shaped[np.ndarray, "*shape"]]:
    """Every array of a safetensors file, as numpy."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} ({what}) is missing")
    try:
        return load_file(str(path))
    except Exception as e:  # as above
        raise _not_safetensors(path, what, e) from None


def _os_error(path: Path, err: Exception) -> Exception:
    """safetensors reports a full disk as its own error type: give it back as the OSError it is."""
    import errno

    if "No space left" in str(err):
        return OSError(errno.ENOSPC, "No space left on device", str(path))
    return err


def write_tensors(path: str | Path, tensors: dict[str, Shaped[Tensor, "*shape"]],
                  metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file (callers make it atomic: interp.atomic.atomic_write)."""
    from safetensors.torch import save_file

    try:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    except Exception as e:  # safetensors' own error types
        raise _os_error(Path(path), e) from None


def write_arrays(path: str | Path, arrays: dict[str, Shaped[np.ndarray, "*shape"]],
                 metadata: dict[str, str] | None = None) -> None:
    """Write numpy arrays as a safetensors file."""
    from safetensors.numpy import save_file

    try:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path), metadata=metadata)
    except Exception as e:  # as above
        raise _os_error(Path(path), e) from None
