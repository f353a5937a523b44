"""`interp feature-pages`: feature pages of any dictionary folder, from an activation cache of its hook or by
running the model on a corpus (cached in OUT/cache, so an interrupted run resumes). The workspace's feature-pages
step calls the same `write_feature_pages`.

The pages record their provenance (model, weight processing, corpus, dictionary and hook, settings); they are
written atomically (JSON last). An --out holding anything this command did not make, or pages of another
dictionary or settings, is refused unless --overwrite is given; pages of the same inputs are left as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from interp.json_files import read_json

from .config import FeaturePagesConfig
from .features import FILES, KIND, FeaturePages, PageSettings, compute_feature_pages, save_feature_pages

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

    from interp.activations.reader import ActivationCache

CACHE_DIR = "cache"
"""Subfolder of --out where --corpus activations are cached."""


def write_feature_pages(folder: str | Path, cache: ActivationCache, model: HookedTransformer, out: str | Path,
                        name: str = "", path: str = "", settings: PageSettings | None = None) -> FeaturePages:
    """Load the dictionary in `folder` (interp.dictionary.load), compute its pages over `cache` and save them to
    `out`; `path` is the folder as the pages record it (default: `folder`)."""
    from interp.dictionary import info, load

    described = info(folder)
    if described.hook_name not in cache.hooks:
        raise ValueError(f"the cache at {cache.path} holds {', '.join(cache.hooks)}, not the dictionary's hook "
                         f"{described.hook_name}: cache that hook (`interp cache --hooks {described.hook_name}`) or "
                         f"give --corpus instead of --cache")
    pages = compute_feature_pages(load(folder), cache, model, name or Path(folder).name, described.kind,
                                  path or str(folder), settings)
    save_feature_pages(pages, out)
    return pages


def _refuse_foreign(cfg: FeaturePagesConfig) -> None:
    """Refuse, before anything is written, an --out holding files this command does not write."""
    out = Path(cfg.output.out)
    if not out.is_dir() or cfg.output.overwrite:
        return
    ours = (*FILES, CACHE_DIR, *(f + ".tmp" for f in FILES))
    foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if foreign:
        raise FileExistsError(f"--out {out} holds files feature-pages did not write ({', '.join(foreign[:5])}); "
                              f"choose an empty folder, or pass --overwrite")


def _up_to_date(cfg: FeaturePagesConfig, identity: dict) -> bool:
    """Whether --out already holds pages of these inputs (`identity`: what the pages' meta must record); pages of
    other inputs are refused unless --overwrite is given."""
    meta_path = Path(cfg.output.out) / FILES[1]
    if cfg.output.overwrite or not meta_path.is_file():
        return False
    try:
        meta = read_json(meta_path)
    except ValueError:
        meta = {}
    if meta.get("kind") != KIND:
        raise FileExistsError(f"{meta_path} is not feature pages; choose another --out, or pass --overwrite")
    if {k: meta.get(k) for k in identity} != identity:
        raise FileExistsError(f"{meta_path.parent} holds feature pages of other inputs ({meta.get('path')} on "
                              f"{meta.get('model')}); choose another --out, or pass --overwrite to replace them")
    return (meta_path.parent / FILES[0]).is_file()


def _open_cache(cfg: FeaturePagesConfig, dictionary, hook: str):
    """The activation cache to read (--cache, else OUT/cache filled or resumed from --corpus) and the model and
    weight processing that the dictionary (a ModelRecord), the cache and the options agree on."""
    from interp.activations import ActivationCache, CacheConfig, cache_activations
    from interp.provenance import ModelRecord, check_model

    if cfg.cache:
        cache = ActivationCache.open(cfg.cache)
        used = check_model(cfg.lm.model, cfg.lm.weight_processing, dictionary,
                           ModelRecord.read(cache.manifest, f"the cache {cfg.cache}"))
        return cache, used
    used = check_model(cfg.lm.model, cfg.lm.weight_processing, dictionary)
    c = CacheConfig.of(model=used.model, weight_processing=used.weight_processing, corpus=cfg.data.corpus,
                       text_column=cfg.data.text_column, n_ctx=cfg.data.n_ctx, hooks=[hook], tokens=cfg.tokens,
                       out=str(Path(cfg.output.out) / CACHE_DIR), seed=cfg.seed, device=cfg.run.device,
                       threads=cfg.run.threads)
    cache_activations(c, progress=False)
    return ActivationCache.open(c.output.out), used


def main(cfg: FeaturePagesConfig) -> FeaturePages:
    """`interp feature-pages`: build (or find up to date) the pages, then print a one-line summary."""
    from interp.dictionary import info
    from interp.models import load_model
    from interp.provenance import ModelRecord

    from .features import load_feature_pages

    described = info(cfg.dictionary)
    folder = str(Path(cfg.dictionary).resolve())
    settings = PageSettings(k=cfg.examples_per_bin, concept_tokens=cfg.concept_tokens, seed=cfg.seed)
    _refuse_foreign(cfg)
    recorded = ModelRecord.read(described, f"the dictionary {cfg.dictionary}")
    cache, (model_name, processing) = _open_cache(cfg, recorded, described.hook_name)
    m = cache.manifest
    identity = {"path": folder, "hook": described.hook_name, "settings": dict(vars(settings)), "model": m.model,
                "weight_processing": m.weight_processing, "model_fingerprint": m.model_fingerprint or None,
                "corpus": m.corpus, "n_tokens": int((cache.positions() != 0).sum())}
    if _up_to_date(cfg, identity):
        print(f"feature pages of {folder} are already in {cfg.output.out} (pass --overwrite to rebuild)")
        return load_feature_pages(cfg.output.out)
    model = load_model(model_name, "cpu", processing)  # pages are computed on the CPU from the cached activations
    pages = write_feature_pages(cfg.dictionary, cache, model, cfg.output.out, path=folder, settings=settings)
    a = pages.arrays
    print(f"feature pages of {described.label} {folder} ({pages.d_sae} features, {int(a['dead'].sum())} dead) over "
          f"{pages.meta['n_tokens']:,} tokens of {pages.meta['model']} ({processing} weight processing) -> "
          f"{cfg.output.out}")
    return pages
