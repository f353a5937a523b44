"""The shipped dictionaries: converged SAEs in data/dictionaries/<model>/<hook>/<name>/, each with its card, and the
one listing every command, the workspace and the explorer read (`shipped`).

A shipped dictionary is a SAELens-format folder (cfg.json + sae_weights.safetensors, the weights stored as float16
and read back as the float32 of cfg.json's dtype, as SAELens's own loader casts them) beside its eval.json, a
card.json (schema `SCHEMA`: the model record, hook, kind, sizes, seed, tokens trained, the headline metrics, the
sparse-probing and absorption summaries, the command that trained it, and the sha256 of every file) and a README.md
generated from the card. `interp dictionaries ship` writes them (saes/ship.py); nothing else does.

Wherever a dictionary folder is taken, `shipped:NAME` names one: NAME is any tail of <model>/<hook>/<name> that only
one shipped dictionary has (`shipped:topk-d2048-k32-s0`, `shipped:toy-gelu-s0/blocks.2.mlp.hook_post/topk-...`).
Opening one (by its spec or its folder) first checks the files against the card's checksums: a file that differs
is a one-line error. Its model is the one its cfg.json records, so interp.provenance.check_model refuses it with any
other model, naming both. The folder's total size is held to `BUDGET_BYTES` (the repository ships it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from interp.json_files import read_json

PREFIX = "shipped:"
SCHEMA = "interp.shipped-dictionary/1"
CARD = "card.json"
README = "README.md"
BUDGET_BYTES = 100 * 1024 * 1024
"""The most data/dictionaries/ may hold in all (100 MiB; the repository carries it)."""
ENV = "INTERP_DICTIONARIES"
"""Environment variable naming another folder of shipped dictionaries (the tests' temporary ones)."""
CARD_KEYS = ("schema", "name", "model", "hook", "kind", "d_in", "d_sae", "seed", "tokens_trained", "metrics",
             "sparse_probing", "absorption", "trained_with", "files")
"""What every card holds (`read_card` refuses a card without one of them)."""
ELSEWHERE_HINT = " (`interp dictionaries list --model {model}` lists the dictionaries shipped for it)"
"""What a --model that disagrees with a shipped dictionary's is told (interp.provenance.ModelRecord.elsewhere)."""
METRICS = ("l0", "r2", "ce_loss_recovered", "dead_fraction")
"""The card's headline numbers, from eval.json."""


class ShippedError(ValueError):
    """A shipped dictionary that cannot be used as it is (unknown name, broken card, files that differ)."""


class Shipped(NamedTuple):
    """One shipped dictionary: its folder and its card."""

    folder: Path
    card: dict[str, Any]

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def model(self) -> str:
        return self.card["model"]["model"]

    @property
    def spec(self) -> str:
        """The `shipped:MODEL/HOOK/NAME` spec naming it wherever a dictionary is taken."""
        return f"{PREFIX}{self.model}/{self.card['hook']}/{self.name}"

    @property
    def label(self) -> str:
        """How pickers mark it: "shipped, converged: N tokens"."""
        return f"shipped, converged: {int(self.card['tokens_trained']):,} tokens"


def root() -> Path:
    """The folder of shipped dictionaries: $INTERP_DICTIONARIES, else data/dictionaries beside data/models."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    data = os.environ.get("INTERP_DATA", Path(__file__).resolve().parents[1] / "data")
    return Path(data) / "dictionaries"


def read_card(folder: str | Path) -> dict[str, Any]:
    """The card of a shipped dictionary folder; a missing key or another schema is a one-line error."""
    folder = Path(folder)
    card = read_json(folder / CARD, "write it again with `interp dictionaries ship`")
    if not isinstance(card, dict) or card.get("schema") != SCHEMA:
        raise ShippedError(f"{folder / CARD} is not a shipped-dictionary card (schema {SCHEMA}): ship the "
                           f"dictionary again with `interp dictionaries ship`")
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise ShippedError(f"{folder / CARD} lacks {', '.join(missing)}: ship the dictionary again with "
                           f"`interp dictionaries ship`")
    return card


def is_shipped_folder(folder: Path) -> bool:
    """A folder holding a shipped-dictionary card (cfg.json and weights beside it)."""
    return (folder / CARD).is_file() and (folder / "cfg.json").is_file()


def shipped(model_name: str = "", hook: str = "", where: str | Path | None = None) -> list[Shipped]:
    """Every shipped dictionary under `where` (default `root()`), in folder order; only those of the model
    `model_name` (any spelling interp.options.canonical_model reads as it) and `hook` when given."""
    base = Path(where) if where is not None else root()
    if not base.is_dir():
        return []
    found = [Shipped(card.parent, read_card(card.parent)) for card in sorted(base.glob(f"*/*/*/{CARD}"))]
    if model_name:
        from interp.options import canonical_model

        found = [s for s in found if canonical_model(s.model) == canonical_model(model_name)]
    return [s for s in found if not hook or s.card["hook"] == hook]


def find(spec: str, where: str | Path | None = None) -> Shipped:
    """The shipped dictionary `shipped:NAME` names (NAME: a tail of MODEL/HOOK/NAME only one of them has)."""
    want = spec.removeprefix(PREFIX).strip("/")
    every = shipped(where=where)
    hits = [s for s in every if want and f"/{s.spec.removeprefix(PREFIX)}".endswith(f"/{want}")]
    if len(hits) == 1:
        return hits[0]
    listed = ", ".join(s.spec for s in (hits or every)) or f"none: {root()} holds no shipped dictionary"
    if hits:
        raise ShippedError(f"{spec} names {len(hits)} shipped dictionaries ({listed}): give more of MODEL/HOOK/NAME")
    raise ShippedError(f"no shipped dictionary is named {spec} (shipped: {listed}); list them with "
                       f"`interp dictionaries list`")


def verify(folder: str | Path, card: dict[str, Any] | None = None) -> dict[str, Any]:
    """The card of `folder` after checking every file it lists against its sha256 (a file that differs or is
    missing is a one-line error naming it). Checksums are remembered per file version within a process."""
    folder = Path(folder)
    card = card if card is not None else read_card(folder)
    for name, want in card["files"].items():
        path = folder / name
        if not path.is_file():
            raise ShippedError(f"{path} is missing (the card {folder / CARD} lists it): ship the dictionary again")
        got = _sha256(path)
        if got != want["sha256"]:
            raise ShippedError(f"{path} does not match its card's checksum (sha256 {got[:16]}..., the card records "
                               f"{want['sha256'][:16]}...): the file was changed or damaged; restore it (git checkout "
                               f"{folder}) or ship the dictionary again")
    return card


_SUMS: dict[tuple, str] = {}


def _sha256(path: Path) -> str:
    from interp.checkpoint import sha256_file

    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _SUMS:
        _SUMS[key] = sha256_file(path)
    return _SUMS[key]


def model_known(name: str) -> bool:
    """Whether others can load the model a card records: a shipped toy model or one `interp models fetch` installs."""
    from interp.model_fetch import FETCHABLE
    from interp.models import shipped_models

    return name in shipped_models() or name in FETCHABLE


def folder_of(spec: str | Path) -> Path:
    """The verified folder of a `shipped:` spec or of a shipped folder given by its path."""
    text = str(spec)
    folder = find(text).folder if text.startswith(PREFIX) else Path(text)
    verify(folder)
    return folder


def total_bytes(where: str | Path | None = None) -> int:
    """Bytes held under the shipped folder (every file, cards and READMEs included)."""
    base = Path(where) if where is not None else root()
    return sum(p.stat().st_size for p in base.rglob("*") if p.is_file()) if base.is_dir() else 0


def audit(where: str | Path | None = None) -> list[str]:
    """What is wrong with a folder of shipped dictionaries (default `root()`), one line each: over the budget, a
    card that does not read, a file that differs from its card's checksum, a recorded model others cannot load, a
    card that disagrees with its cfg.json, weights that do not load. [] when all is well (an empty folder too)."""
    from interp.dictionary import load
    from saes.io import read_info

    base = Path(where) if where is not None else root()
    problems = []
    if total_bytes(base) > BUDGET_BYTES:
        problems.append(f"{base} holds {total_bytes(base) / 2**20:.1f} MiB, over its {BUDGET_BYTES / 2**20:.0f} MiB")
    for card in sorted(base.glob(f"*/*/*/{CARD}")) if base.is_dir() else []:
        folder = card.parent
        try:
            c = verify(folder)
            info = read_info(folder)
            said, cfg = (c["model"]["model"], c["hook"], c["kind"], c["d_sae"]), \
                (info.model, info.hook_name, info.arch, info.d_sae)
            if said != cfg:
                raise ShippedError(f"{folder}: the card says {said}, cfg.json {cfg}")
            if not model_known(c["model"]["model"]):
                raise ShippedError(f"{folder} records the model {c['model']['model']}, not a shipped or fetchable one")
            if folder.relative_to(base).parts != (c["model"]["model"], c["hook"], c["name"]):
                raise ShippedError(f"{folder} is not at {c['model']['model']}/{c['hook']}/{c['name']}")
            load(folder)
        except (ValueError, OSError) as e:
            problems.append(str(e))
    return problems


def main_list(cfg) -> list[Shipped]:
    """CLI entry (`interp dictionaries list`): one line per shipped dictionary (of --model when given)."""
    if cfg.model and not model_known(cfg.model) and not Path(cfg.model).expanduser().exists():
        from interp.model_fetch import FETCHABLE
        from interp.models import shipped_models

        raise ShippedError(f"--model {cfg.model} is not a model dictionaries are shipped for: give a shipped toy model "
                           f"or a fetchable one ({', '.join([*shipped_models(), *FETCHABLE])})")
    found = shipped(cfg.model)
    for s in found:
        m = s.card["metrics"]
        numbers = " ".join(f"{k}={m[k]:.4g}" for k in METRICS if isinstance(m.get(k), (int, float)))
        print(f"{s.spec}  {s.card['kind']} d_sae={s.card['d_sae']} seed={s.card['seed']} {numbers} ({s.label})")
    if not found:
        print(f"no shipped dictionary{' of ' + cfg.model if cfg.model else ''} in {root()}")
    return found
