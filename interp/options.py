"""The option groups every command shares, nested into each command's config (kept free of torch: the CLI reads
them to build its parser).

- `ModelOptions`: which model, and how its weights are processed on load;
- `CorpusOptions`: which text to run it on, and the context size;
- `RuntimeOptions`: device and CPU threads;
- `OutputOptions`: where results go.

What a resumable run computes (its checkpoint identity, interp.checkpoint.identity) is every option except the
`RuntimeOptions` and `OutputOptions` groups (where and how it runs, where it writes) and the fields declared with
`not_identity(default)` (logging, checkpoint frequency, stopping criteria a rerun may change).

A command nests the groups it needs (`cfg.lm`, `cfg.data`, `cfg.run`, `cfg.output`); simple-parsing turns every leaf
field into one flat option (`--model`, `--corpus`, `--device`, `--out`), so the CLI names stay flat. Commands whose
default or help differs (another default model, output folder) nest a subclass that says so. From Python,
`Config.of(**flat)` builds a config from the same flat names, and `cfg.flat()` gives them back (what artifacts
record as their settings).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

T = TypeVar("T", bound="Options")

NOT_IDENTITY = "not_identity"
"""Field-metadata key of the options that do not change what a run computes."""


def not_identity(default: Any) -> Any:
    """A field whose value a resumed run may change (it does not change what the run computes): its default, marked
    so interp.checkpoint.identity leaves it out."""
    return dataclasses.field(default=default, metadata={NOT_IDENTITY: True})


class Options:
    """Mixin of every config dataclass: flat construction and a flat view. Every config refuses non-finite float
    options (`check_finite`), from the CLI as from Python, naming the option before any reason its own __post_init__
    gives (a nan passes or misleads range checks)."""

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")
        if own is None or getattr(own, "_checks_finite", False):
            return

        def __post_init__(self, *args: Any) -> None:
            try:
                own(self, *args)
            except ValueError as e:  # a nan can mislead a range check: name it first, the config's reason after
                if problem := non_finite(self, nested=False):
                    raise ValueError(f"{problem} ({e})") from None
                raise
            check_finite(self, nested=False)  # every float the range checks let through (nan passes them)

        __post_init__._checks_finite = True  # type: ignore[attr-defined]
        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]

    def __post_init__(self) -> None:  # configs without their own checks
        check_finite(self, nested=False)

    @classmethod
    def of(cls: type[T], **flat: Any) -> T:
        """Build the config from flat option names (the CLI's, with underscores), filling nested groups."""
        return _build(cls, dict(flat), top=True)

    def flat(self) -> dict[str, Any]:
        """Every leaf option by its flat name (nested groups flattened)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if dataclasses.is_dataclass(v) and isinstance(v, Options):
                out.update(v.flat())
            else:
                out[f.name] = v
        return out


def non_finite(cfg: Any, nested: bool = True) -> str:
    """The one-line refusal of `cfg`'s first non-finite float option (nan, inf, -inf), named as the CLI spells it,
    or "" when every float option is finite (`nested` False: each nested group checks its own fields)."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v) and isinstance(v, Options):
            if nested and (problem := non_finite(v)):
                return problem
            continue
        values = v if isinstance(v, (list, tuple)) else [v]
        bad = [x for x in values if isinstance(x, float) and not math.isfinite(x)]
        if bad:
            return (f"--{f.name.replace('_', '-')} {bad[0]} is not a finite number: give a finite value (nan and inf "
                    f"are refused)")
    return ""


def check_finite(cfg: Any, nested: bool = True) -> None:
    """Refuse a non-finite float option of any command, naming it: one nan threshold would train an all-NaN
    dictionary and write NaN into its config. Every `Options` config calls it on construction."""
    if problem := non_finite(cfg, nested):
        raise ValueError(problem)


def _build(cls: type, flat: dict[str, Any], top: bool = False, default: Any = None) -> Any:
    """cls(...) from flat names; nested groups are built the same way from their default instance."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        nested = _nested_type(cls, f)
        if nested is not None:
            base = getattr(default, f.name) if default is not None else f.default_factory()
            kwargs[f.name] = _build(nested, flat, default=base)
        elif f.name in flat:
            kwargs[f.name] = flat.pop(f.name)
        elif default is not None:
            kwargs[f.name] = getattr(default, f.name)
    if top and flat:
        names = sorted(option_names(cls))
        raise TypeError(f"{cls.__name__} has no option(s) {', '.join(sorted(flat))}; it takes {', '.join(names)}")
    return cls(**kwargs)


def _nested_type(cls: type, f: dataclasses.Field) -> type | None:
    if f.default_factory is not dataclasses.MISSING:
        probe = f.default_factory()
        if dataclasses.is_dataclass(probe) and isinstance(probe, Options):
            return type(probe)
    return None


def option_names(cls: type) -> list[str]:
    """Every leaf option of a config class by its flat name (the CLI's, with underscores); positional arguments
    (`positional_names`) are not options."""
    out = []
    for f in dataclasses.fields(cls):
        nested = _nested_type(cls, f)
        if nested is not None:
            out += option_names(nested)
        elif not f.metadata.get("positional"):
            out.append(f.name)
    return out


def positional_names(cls: type) -> dict[str, str]:
    """The positional arguments of a config class (simple_parsing's field(positional=True)): name -> metavar."""
    return {f.name: f.metadata.get("custom_args", {}).get("metavar", f.name.upper())
            for f in dataclasses.fields(cls) if f.metadata.get("positional")}


def flag(name: str) -> str:
    """An option's command-line name from its field name (`eval_tokens` -> `--eval-tokens`)."""
    return "--" + name.replace("_", "-")


def at_least(low: float, note: str = "", /, **values: Any) -> None:
    """Refuse the first of `values` (field name -> value) below `low`, naming that option alone, the bound and what
    the option's special values mean (`note`, e.g. "0: the default"). None means "not given" and passes. Non-finite
    floats are checked where they are parsed; here NaN passes."""
    for name, value in values.items():
        if value is not None and value < low:
            extra = f" ({note})" if note else ""
            raise ValueError(f"{flag(name)} must be >= {low}{extra}, got {value}")


def within(low: float, high: float, /, **values: Any) -> None:
    """Refuse the first of `values` outside [low, high], naming that option alone."""
    for name, value in values.items():
        if value is not None and not low <= value <= high:
            raise ValueError(f"{flag(name)} must be in [{low}, {high}], got {value}")


def physical_memory() -> int:
    """This machine's physical memory in bytes (0 where the system does not say: nothing to compare with)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return 0


def check_memory(need_bytes: int, asked: str) -> None:
    """Refuse a run whose up-front working set (`need_bytes`, for what `asked` for, e.g. "--tokens 10^15") is more
    than this machine's physical memory, before it starts growing toward it."""
    total = physical_memory()
    if total and need_bytes > total:
        raise ValueError(f"{asked} needs about {need_bytes / 2**30:,.1f} GiB of memory up front, more than this "
                         f"machine's {total / 2**30:,.1f} GiB: ask for fewer")


TOKEN_BYTES = 8
"""The least memory a token read up front takes (its int64 id): evaluations hold every row before the first pass."""
PROMPT_BYTES = 256
"""The least memory a prompt pair takes (two int64 rows of at least 16 tokens), all drawn before any patching."""
DOC_BYTES = 512
"""The least memory a held-out document takes (at least 64 int64 tokens, the toy models' context)."""


def fits_memory(bytes_each: int, /, **counts: Any) -> None:
    """Refuse the first of `counts` (field name -> a count of tokens, prompts, documents) whose working set, at least
    `bytes_each` bytes per unit held before the first result, is more than this machine's memory, naming that option
    alone: a typo such as 10^15 is refused when the config is built instead of growing for minutes first."""
    for name, value in counts.items():
        if value is not None:
            check_memory(value * bytes_each, f"{flag(name)} {value:,}")


def check_output_path(path: str, option: str = "--out", folder: bool = True, empty_ok: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written: empty (unless it has a meaning), a file
    where a folder is wanted or a folder where a file is, or under a file. A missing parent folder is fine (the
    command creates it); permissions and full disks are the OS's one-line errors at the first write (apps.cli)."""
    if not path:
        if empty_ok:
            return
        raise ValueError(f"{option} is empty: give a {'folder' if folder else 'file'} path")
    p = Path(path).expanduser()
    if folder and p.is_file():
        raise ValueError(f"{option} {path} is an existing file, not a folder: give a folder path")
    if not folder and p.is_dir():
        raise ValueError(f"{option} {path} is a folder: give a file path (e.g. {p / 'report.json'})")
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{option} {path} lies under {parent}, which is a file: give a path in a folder")


WeightProcessing = Literal["default", "none"]


def canonical_model(name: str) -> str:
    """A model as artifacts record it: a folder or .gguf file that exists, as its absolute path (so the record names
    the same weights from any working folder); a shipped toy name, a fetched model's name or a hub name as given.
    The folder of a shipped or fetched model, however spelled, is that model's name: one model, one record, so
    `--model data/models/toy-gelu-s0/` meets an artifact that records toy-gelu-s0 as the same model."""
    if not name:
        return name
    shipped_root = Path(os.environ.get("INTERP_DATA", Path(__file__).resolve().parents[1] / "data")) / "models"
    path = Path(name).expanduser()
    if (path.name == name and (shipped_root / name).is_dir()) or not path.exists():  # a name, not a path
        return name
    resolved = path.resolve()
    if resolved.parent == shipped_root.resolve() and resolved.is_dir():
        return resolved.name
    if _fetched_as(resolved) == resolved.name:
        return resolved.name
    return str(resolved)


def _fetched_as(folder: Path) -> str | None:
    """The name `interp models fetch` installed `folder` as (its source record says), or None."""
    from .gguf_convert import SOURCE_FILE, models_home

    if folder.parent != models_home().resolve() or not (folder / SOURCE_FILE).is_file():
        return None
    import json

    try:
        return json.loads((folder / SOURCE_FILE).read_text()).get("fetched_as")
    except (ValueError, OSError):
        return None


@dataclass
class ModelOptions(Options):
    """The model to run."""

    model: str = "toy-gelu-s0"
    """Shipped toy model name, a fetched model (smollm2-135m: `interp models fetch`), a local model folder (a Hugging
    Face folder of any architecture TransformerLens converts, or a saved toy model) or .gguf file (recorded by its
    absolute path), or a TransformerLens model name (needs the model hub)."""
    weight_processing: WeightProcessing = "default"
    """default: TransformerLens's processing (LayerNorm weights folded into the next layer, writing weights and the
    unembedding centred, value biases folded), so residual-stream hooks differ from the checkpoint's hidden states
    by the folded parts; none: the weights as the checkpoint has them (hooks equal the Hugging Face model's)."""

    def __post_init__(self):
        default = next(f.default for f in dataclasses.fields(self) if f.name == "model")
        if default and not self.model.strip():  # "" would be read as the current folder
            raise ValueError(f"--model is empty: give a model name or folder (default: {default})")
        self.model = canonical_model(self.model)


@dataclass
class RecordedModelOptions(ModelOptions):
    """The model to run; by default the one the input (cache, dictionary) records."""

    model: str = ""
    """Model name or folder; default: the model the input records. A model that disagrees with the recorded one is
    an error naming both."""


@dataclass
class RuntimeOptions(Options):
    """Where to run."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to run; auto picks CUDA when a GPU is visible. Under torchrun each process takes its local GPU."""
    threads: int = 0
    """CPU threads for torch; 0: the cores the machine leaves idle at start (by its load average; OMP_NUM_THREADS
    when set), at least 1. 1 is much faster on a machine whose cores are all busy, all cores on an idle one."""

    def __post_init__(self):
        at_least(0, "0: the machine's idle cores", threads=self.threads)


@dataclass
class CorpusOptions(Options):
    """The text to run the model on."""

    corpus: str = ""
    """'toyworld' (the labelled toy world), 'python-docs' (English prose that ships with Python: its manual's
    topics and the standard library's docstrings), a .txt file or a folder of .txt files, a .jsonl / .parquet file
    with a text column, a `datasets` folder (save_to_disk), or 'hf:NAME[:SPLIT]' (streamed; needs the hub).
    Default: the toy world for the shipped toy models; any other model needs a corpus. On a model of no toy world
    'toyworld[:WORLD][:RULE]' is that world's sentences (default toy1; or toy2) as English text in the model's own
    tokens, with each word's labels on the token that completes the word (RULE 'last', the default) or on all its
    tokens ('all'), so concept AUROCs work on any model (docs/real_model.md)."""
    text_column: str = "text"
    """Column holding the text in .jsonl, .parquet and dataset corpora."""
    n_ctx: int = 0
    """Tokens per row, BOS included (text is packed into rows); 0: min(128, the model's context)."""

    def __post_init__(self):
        if self.n_ctx != 0:
            at_least(2, "or 0: min(128, the model's context)", n_ctx=self.n_ctx)


@dataclass
class OutputOptions(Options):
    """Where results go."""

    out: str = "runs/out"
    """Output folder."""
    overwrite: bool = False
    """Replace output files an earlier run (or anything else) left there; without it such files are never
    replaced (resumable commands still resume their own unfinished runs)."""

    is_folder: ClassVar[bool] = True
    """--out names a folder (False where it names one file)."""

    def __post_init__(self):
        # before any work: a path that cannot be written fails now, not after an hour of computing. "" is allowed
        # only where the default is "" (it then means "the default place", e.g. beside the input)
        default = next(f.default for f in dataclasses.fields(self) if f.name == "out")
        check_output_path(self.out, "--out", folder=self.is_folder, empty_ok=not default)

    def claim(self, *paths, why: str = "") -> None:
        """Refuse, before anything is written, to replace existing files unless --overwrite was given (the one check
        of every command that writes where something may already be); `why` says whose the files are."""
        from pathlib import Path

        there = [str(p) for p in paths if p and Path(p).exists()]
        if there and not self.overwrite:
            raise FileExistsError(f"{', '.join(there)} already exist(s){why}; nothing was overwritten. Pass "
                                  f"--overwrite to replace, or choose another --out")
