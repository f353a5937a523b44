"""The caching run: corpus rows -> forward passes with copy-out hooks -> durable shards, resumable at any point.

`cache_activations(cfg)` plans shards of whole documents (shard K = documents [K * docs_per_shard, ...)), skips
those already in the folder's manifest, and for the rest runs the model in batches under inference_mode, only as far
as the deepest requested hook: `stop_at_layer` skips the blocks after it, and once every requested hook of a batch
has fired the forward pass is cut short. Blocks, attention and LayerNorms run as fused kernels (`interp.fused`),
which halves a small model's forward time and leaves every cached hook's value as TransformerLens computes it up
to float rounding, and freed memory stays in the process (`interp.allocator`), so batches after the first do not
page-fault. Hooks copy straight into preallocated per-shard buffers (no run_with_cache dictionary), or find the
fused path has computed the value there already; each hook's rows are written (see `writer`) in the background as
soon as they are filled, and a finished shard is made durable there while the next one is computed into a second
set of buffers.
Under torchrun each rank takes shards K with K % world == rank; see `distributed`.

`main(cfg)` is the `interp cache` command; `python -m interp.activations.cache --model ...` is the same command
(handy under `torchrun -m`), except that `interp cache` also starts torch with OpenMP workers that sleep between
kernels (`interp.commands.OPENMP_PASSIVE`), which leaves the background writes a core; set OMP_WAIT_POLICY=PASSIVE
yourself for the module form.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from jaxtyping import Int
from torch import Tensor
from tqdm.auto import tqdm

from ..allocator import retain_freed_memory
from ..corpus import TokenSource, open_corpus, rows_available
from ..corpus import summary as corpus_summary
from ..fused import compute_into, fused_kernels
from ..models import check_hooks, load_model
from ..provenance import model_record
from ..runtime import RunContext, is_main_process, start_run
from . import distributed
from .config import CacheConfig
from .manifest import MANIFEST, SHARD_DIR, CacheError, Manifest, check_sizes, file_problem, rank_manifest_name
from .stream import HookRunner, stop_layer
from .writer import ShardBuffers, ShardJob, ShardWriter

if TYPE_CHECKING:
    from transformer_lens import HookedTransformer

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class CacheResult:
    """What a caching run left in its folder."""

    path: Path
    hooks: list[str]
    n_tokens: int
    """Tokens in the cache now (all ranks, earlier runs included)."""
    n_shards: int
    bytes_on_disk: int
    new_tokens: int
    """Tokens computed in this run (by all ranks)."""
    seconds: float
    manifest: Manifest
    """The cache's manifest: model, weight processing, hooks, corpus."""

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ShardPlan:
    """Shard `index` covers documents [first_doc, first_doc + n_docs)."""

    index: int
    first_doc: int
    n_docs: int


def expand_hooks(model: HookedTransformer, patterns: list[str]) -> list[str]:
    """Hook names for names or glob patterns, in model order; unknown names raise listing the valid hooks."""
    names = list(model.hook_dict)
    chosen: set[str] = set()
    for pat in patterns:
        if any(c in pat for c in "*?["):
            hits = fnmatch.filter(names, pat)
            if not hits:
                check_hooks(model, [pat])  # raises, listing every valid hook
            chosen.update(hits)
        else:
            check_hooks(model, [pat])
            chosen.add(pat)
    return [n for n in names if n in chosen]


class Capture:
    """The cache's callback for `HookRunner`: copies each requested activation into the current shard's buffers.
    Where the fused block path can compute an activation straight into its place in the buffer
    (`interp.fused.compute_into`), the hook finds it there and copies nothing."""

    def __init__(self, model, hooks: list[str]):
        self.runner = HookRunner(model, hooks)
        self.points = {h: model.hook_dict[h] for h in hooks}
        self.buf, self.offset, self.on_rows = None, 0, None

    def _on_act(self, name: str, act: Tensor) -> None:
        flat = act.reshape(act.shape[0] * act.shape[1], -1)  # [batch, pos, *shape] -> [batch * pos, d]
        dst = self.buf.acts[name][self.offset:self.offset + flat.shape[0]]
        if flat.data_ptr() != dst.data_ptr() or flat.shape != dst.shape:
            dst.copy_(flat)
        if self.on_rows is not None:
            self.on_rows(name, self.offset + flat.shape[0])

    def run(self, tokens: Int[Tensor, "batch pos"], buf: ShardBuffers, offset: int, on_rows=None) -> None:
        """Fill rows [offset, offset + tokens.numel()) of `buf`; on_rows(hook, end_row) is called once a hook's rows
        are in place (the writer starts on them while the deeper layers compute)."""
        self.buf, self.offset, self.on_rows = buf, offset, on_rows
        n = tokens.numel()
        into = {p: buf.acts[h][offset:offset + n].view(*tokens.shape, -1)  # [batch * pos, d] -> [batch, pos, d]
                for h, p in self.points.items()}
        with compute_into(into):
            self.runner.run(tokens, self._on_act)


def probe_shapes(model: HookedTransformer, hooks: list[str], source: TokenSource, device: str) -> dict[str, list[int]]:
    """Per-token trailing shape of each hook, from one forward pass on one row; rejects non-per-token hooks."""
    shapes: dict[str, list[int]] = {}

    def rec(act: Tensor, hook) -> None:
        shapes[hook.name] = list(act.shape)

    with torch.inference_mode():
        model.run_with_hooks(source.rows(0, 1).tokens.to(device).long(), fwd_hooks=[(h, rec) for h in hooks],
                             stop_at_layer=stop_layer(hooks, model.cfg.n_layers))
    bad = [f"{h} {s}" for h, s in shapes.items() if s[:2] != [1, source.n_ctx]]
    if bad:
        raise CacheError(f"only per-token hooks [batch, pos, ...] can be cached; these are not: {', '.join(bad)}")
    return {h: shapes[h][2:] or [1] for h in hooks}


DISK_FACTOR = 10
"""--tokens whose cache would be this many times the whole disk is refused before anything is planned."""


SHARD_FILE = re.compile(r"r\d+-\d{6}\.[\w.]+\.safetensors(\.tmp)?")
"""Names of the files a cache writes into shards/ (manifest.shard_stem, writer: `<stem>.<key>.safetensors[.tmp]`):
a run removes only such files when they are not listed, never another file there."""
LEFTOVER = re.compile(r"\.(manifest[\w.]*\.json|direct-io-probe)\..+\.tmp")
"""Temporary files a cache run leaves beside the manifest when killed (interp.atomic, the direct-I/O probe)."""


def plan_shards(n_docs: int, docs_per_shard: int) -> list[ShardPlan]:
    return [ShardPlan(k, k * docs_per_shard, min(docs_per_shard, n_docs - k * docs_per_shard))
            for k in range(math.ceil(n_docs / docs_per_shard))]


def prepare_folder(out: Path, header: Manifest, plan: list[ShardPlan], dist: RunContext) -> Manifest:
    """Check the folder holds this cache (or nothing); rank 0 merges, drops stale shards and leftovers. All ranks."""
    path = out / MANIFEST
    manifest = Manifest.load(path) if path.is_file() else copy.deepcopy(header)
    manifest.check_same(header, out)
    if dist.is_main:
        (out / SHARD_DIR).mkdir(parents=True, exist_ok=True)
        distributed.merge_rank_manifests(out, manifest)
        manifest.check_records(out)
        by_index = {p.index: p for p in plan}
        for s in list(manifest.shards):
            p = by_index.get(s.index)
            if p is not None and (p.first_doc, p.n_docs) != (s.first_doc, s.n_docs):
                manifest.shards.remove(s)  # a shorter last shard of a smaller earlier run: recompute it
        _drop_damaged(out, manifest)
        manifest.save(path)
        keep = {Path(r.path).name for s in manifest.shards for r in s.files.values()}
        for f in (out / SHARD_DIR).iterdir():
            if f.name not in keep and SHARD_FILE.fullmatch(f.name):  # temp files, shards the manifest never listed
                f.unlink()
        for f in out.glob("*.tmp"):
            if LEFTOVER.fullmatch(f.name):  # this command's temporary files; a file of the user's stays
                f.unlink()
    dist.barrier()
    manifest = Manifest.load(path)
    check_sizes(out, manifest)
    return manifest


def _drop_damaged(out: Path, manifest: Manifest) -> None:
    """Re-verify every listed shard file (size and xxh3 checksum); a shard with a damaged file is dropped from the
    manifest, so this run computes it again."""
    for s in list(manifest.shards):
        problems = [p for rec in s.files.values() if (p := file_problem(out, rec))]
        if problems:
            print(f"cache: shard {s.index} is damaged ({'; '.join(problems)}): computing it again", flush=True)
            manifest.shards.remove(s)


def _compute_shard(source: TokenSource, capture: Capture, writer: ShardWriter, buf: ShardBuffers,
                   shard: ShardPlan, cfg: CacheConfig, device: str, bar: tqdm) -> None:
    """Fill `buf` with the tokens, labels and activations of `shard`, handing each hook's rows to `writer` as they
    fill (the hooks' copies into the pageable buffers are synchronous, so reported rows are in host memory)."""
    rows = source.rows(shard.first_doc, shard.n_docs)
    job = ShardJob(shard.index, shard.first_doc, shard.n_docs, source.n_ctx, buf)
    buf.tokens[:job.n_tokens].copy_(rows.tokens.reshape(-1))  # [doc, pos] -> [doc * pos]
    if buf.labels is not None:
        buf.labels[:job.n_tokens].copy_(rows.labels.reshape(job.n_tokens, -1))  # [doc, pos, field] -> [tok, field]
    writer.begin(job)
    for b0 in range(0, shard.n_docs, cfg.batch_size):
        batch = rows.tokens[b0:b0 + cfg.batch_size].to(device).long()
        capture.run(batch, buf, b0 * source.n_ctx, lambda hook, end: writer.progress(job, end, hook))
        bar.update(batch.numel())
    writer.write(job)


def _header(cfg: CacheConfig, model, hooks: list[str], source: TokenSource, device: str) -> Manifest:
    shapes = probe_shapes(model, hooks, source, device)
    token_bytes = _token_bytes(shapes, cfg.dtype)
    tokens = min(cfg.shard_tokens, (cfg.shard_mb << 20) // token_bytes)
    return Manifest(**model_record(cfg.lm.model, cfg.lm.weight_processing), hooks=hooks, shapes=shapes,
                    dtype=cfg.dtype, corpus=source.description, n_ctx=source.n_ctx,
                    docs_per_shard=max(1, tokens // source.n_ctx),
                    label_schema=source.taxonomy.schema() if source.taxonomy is not None else None)


def _token_bytes(shapes: dict[str, list[int]], dtype: str) -> int:
    """Bytes one token's activations take on disk (every hook)."""
    return sum(math.prod(s) for s in shapes.values()) * DTYPES[dtype].itemsize


def check_room(tokens: int, header: Manifest, out: Path) -> None:
    """Before a shard is planned: refuse --tokens whose cache would be more than DISK_FACTOR times the whole file
    system holding `out` (a typo such as 10^15 tokens; its plan alone would fill memory), and warn, with the
    numbers, when it is more than the free space (the run stops when the disk is full and resumes once there is
    room, so a disk that will grow is fine)."""
    import shutil
    import warnings

    per_token = _token_bytes(header.shapes, header.dtype)
    need = max(0, tokens - _existing_docs(out) * header.n_ctx) * per_token
    disk = shutil.disk_usage(out)
    numbers = (f"--tokens {tokens:,} needs about {need / 2**30:,.2f} GiB for {len(header.hooks)} hook(s) in "
               f"{header.dtype}, but the disk of {out} holds {disk.total / 2**30:,.2f} GiB")
    if need > DISK_FACTOR * disk.total:
        raise CacheError(f"{numbers} in all: give fewer --tokens (about {disk.free // per_token:,} fit in the free "
                         f"space) or another --out")
    if need > disk.free:
        warnings.warn(f"{numbers}, {disk.free / 2**30:,.2f} GiB of it free: the run stops when the disk is full "
                      f"(it resumes once there is room); give fewer --tokens to finish now", stacklevel=2)


def _existing_docs(out: Path) -> int:
    """Documents covered by shards already listed (so a smaller --tokens never shrinks a cache)."""
    path = out / MANIFEST
    if not path.is_file():
        return 0
    return max((s.first_doc + s.n_docs for s in Manifest.load(path).shards), default=0)


def _compute(model, source, hooks, header: Manifest, todo: list[ShardPlan], cfg, device, dist, out, progress
             ) -> int:
    """Compute and write this rank's shards; returns tokens computed. Writes are recorded as they land."""
    rank_path = out / (MANIFEST if dist.world == 1 else rank_manifest_name(dist.rank))
    own = Manifest.load(out / MANIFEST) if dist.world == 1 else Manifest(**{**vars(header), "shards": []})
    writer = ShardWriter(out, dist.rank, own, rank_path)
    bufs = [ShardBuffers.allocate(header.d, header.docs_per_shard * source.n_ctx, DTYPES[cfg.dtype],
                                  source.n_label_fields) for _ in range(2 if writer.direct else 1)]
    capture = Capture(model, hooks)
    total = sum(s.n_docs for s in todo) * source.n_ctx
    bar = tqdm(total=total, unit="tok", unit_scale=True, desc=f"cache rank {dist.rank}" if dist.world > 1 else
               "cache", disable=not progress or not dist.is_main, dynamic_ncols=True)
    try:
        with torch.inference_mode(), fused_kernels(model, cfg.fused_kernels), capture.runner.installed():
            for i, shard in enumerate(todo):
                buf = bufs[i % len(bufs)]  # with direct I/O one is written while the other is filled
                buf.free.wait()
                _compute_shard(source, capture, writer, buf, shard, cfg, device, bar)
    finally:
        bar.close()
        written = writer.close()
    return sum(r.n_tokens for r in written)


def cache_activations(cfg: CacheConfig, model: HookedTransformer | None = None, progress: bool = True) -> CacheResult:
    """Cache activations as `cfg` says into cfg.output.out, resuming whatever a previous run left there."""
    t0 = time.perf_counter()
    if cfg.retain_memory:
        retain_freed_memory()
    dist = start_run(cfg.run.device, cfg.run.threads)
    device = dist.device
    model = model if model is not None else load_model(cfg.lm.model, device, cfg.lm.weight_processing)
    hooks = expand_hooks(model, cfg.hooks)
    source = open_corpus(cfg.data, model, "train", seed=cfg.seed, model_name=cfg.lm.model)
    header = _header(cfg, model, hooks, source, device)
    out = Path(cfg.output.out)  # created only once the model, hooks, corpus and disk are known to be usable
    if dist.is_main and not (out / MANIFEST).is_file() and out.is_dir() and any(p.is_file() for p in out.rglob("*")):
        # not a cache: preparing the folder would delete files of its shards/ and *.tmp files as leftovers
        cfg.output.claim(out, why=" and holds no activation cache (no manifest.json)")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)  # first: an unwritable --out is a permission error, not a size one
    try:
        check_room(cfg.tokens, header, out)
    except CacheError:
        if created:
            out.rmdir()  # nothing of this run is left behind
        raise
    wanted = max(math.ceil(cfg.tokens / source.n_ctx), _existing_docs(out))
    plan = plan_shards(rows_available(source, wanted, f"--tokens {cfg.tokens:,}"), header.docs_per_shard)
    manifest = prepare_folder(out, header, plan, dist)
    done = {s.index for s in manifest.shards}
    todo = [s for s in plan if s.index % dist.world == dist.rank and s.index not in done]
    t1 = time.perf_counter()
    new_tokens, error = 0, None
    try:
        new_tokens = _compute(model, source, hooks, header, todo, cfg, device, dist, out, progress)
    except Exception as e:  # finish the group's bookkeeping first, so other ranks do not wait forever
        error = e
    all_ok, all_new_tokens = dist.all_ok(error is None), dist.sum_int(new_tokens)
    if dist.is_main:
        final = Manifest.load(out / MANIFEST)
        distributed.merge_rank_manifests(out, final)
    dist.barrier()
    dist.close()
    if error is not None:
        raise error
    if not all_ok:
        raise CacheError("another rank failed; the shards written so far are kept, run again to resume")
    final = Manifest.load(out / MANIFEST)
    size = sum(r.bytes for s in final.shards for r in s.files.values())
    return CacheResult(out, hooks, final.n_tokens, len(final.shards), size, all_new_tokens,
                       time.perf_counter() - (t1 if new_tokens else t0), final)


def main(cfg: CacheConfig) -> CacheResult:
    """`interp cache`: cache activations, then print a short summary."""
    result = cache_activations(cfg)
    if is_main_process():  # the group is closed by now
        m = result.manifest
        print(f"cached {result.n_tokens:,} tokens x {len(result.hooks)} hooks ({', '.join(result.hooks)}) of "
              f"{m.model} ({m.weight_processing} weight processing) on {corpus_summary(m.corpus)} in "
              f"{result.n_shards} shards, {result.bytes_on_disk / 2**20:,.1f} MiB on disk, at "
              f"{result.tokens_per_s:,.0f} tokens/s ({result.new_tokens:,} new) -> {result.path}")
    return result


if __name__ == "__main__":
    import simple_parsing

    from ..hub import ensure_offline_if_no_hub

    ensure_offline_if_no_hub()
    main(simple_parsing.parse(CacheConfig, add_option_string_dash_variants=simple_parsing.DashVariant.DASH,
                              add_config_path_arg=False))
