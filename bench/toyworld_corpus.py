"""Generation speed of the toy-world corpus, toy1 and toy2 side by side.

Each world generates whole chunks (`CHUNK_DOCS` documents of 128 tokens: sentences sampled, token ids and every
label field built) through `interp.worlds.toy.corpus`, the path training and the activation cache read. The worlds
alternate chunk by chunk, so both see the same machine load; a world's speed is its tokens over the time of its
fastest chunk (on a shared machine the fastest chunk is the least disturbed one) and over all its chunks (median).

Usage: python bench/toyworld_corpus.py [--chunks 12]
The LAST line reads exactly ``toy1_tok_s=X toy2_tok_s=Y ratio=Z`` (fastest-chunk speeds, ratio toy2 / toy1).
"""

from __future__ import annotations

import argparse
import statistics
import time

from interp.worlds.toy.corpus import CHUNK_DOCS, CorpusConfig, _generate_chunk

WORLDS = ("toy1", "toy2")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chunks", type=int, default=12, help="chunks per world (each 256 documents of 128 tokens)")
    a = p.parse_args()
    cfgs = {w: CorpusConfig(world=w, seed=0, n_ctx=128) for w in WORLDS}
    for cfg in cfgs.values():
        _generate_chunk(cfg, 10_000)  # imports and table building out of the timings
    times: dict[str, list[float]] = {w: [] for w in WORLDS}
    for chunk in range(a.chunks):
        for w, cfg in cfgs.items():
            t = time.perf_counter()
            _generate_chunk(cfg, chunk)
            times[w].append(time.perf_counter() - t)
    tokens = CHUNK_DOCS * 128
    best = {w: tokens / min(ts) for w, ts in times.items()}
    for w in WORLDS:
        print(f"{w}: {best[w]:>12,.0f} tok/s fastest chunk, {tokens / statistics.median(times[w]):>12,.0f} tok/s "
              f"median of {a.chunks}")
    print(f"toy1_tok_s={best['toy1']:.0f} toy2_tok_s={best['toy2']:.0f} ratio={best['toy2'] / best['toy1']:.2f}")


if __name__ == "__main__":
    main()
