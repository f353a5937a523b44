"""Explorer benchmark: server-side render time of a feature page under streamlit.testing.v1.AppTest.

Opens the Features page on a built workspace (`interp workspace build`, default workspace/), runs it once cold
(artifact loading, caches filling), then renders --n feature pages of the selected dictionary (a different feature
each time: what a user clicking through features sees) and reports median and max seconds per render. The target is
a median under 0.5 s on this machine. The last line reads
`feature_page_median_s=X feature_page_max_s=Y ratio_to_target=Z` (Z = X / 0.5; below 1 meets the target).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/explorer_render.py [--workspace workspace --dictionary sae-topk --n 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "apps" / "explorer" / "app.py"
TARGET_S = 0.5


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", default="workspace")
    p.add_argument("--dictionary", default="sae-topk", help="feature pages to open (features/NAME)")
    p.add_argument("--n", type=int, default=10, help="feature pages to render")
    a = p.parse_args()
    root = Path(a.workspace).resolve()
    if not (root / "features" / a.dictionary / "features.json").is_file():
        raise SystemExit(f"no feature pages {a.dictionary} in {root}: run `interp workspace build --out {root}`")
    os.environ["INTERP_WORKSPACE"] = str(root)
    at = AppTest.from_file(str(APP), default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    at.selectbox(key="dictionary").set_value(a.dictionary).run()
    cold = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    d_sae = int(at.number_input(key="feature").max)
    times = []
    for i in range(a.n):
        f = (i * 97 + 13) % (d_sae + 1)
        t = time.perf_counter()
        at.number_input(key="feature").set_value(f).run()
        times.append(time.perf_counter() - t)
        assert not at.exception and any(h.value == f"Feature {f}" for h in at.header)
    med, mx = statistics.median(times), max(times)
    print(f"{a.dictionary}: {d_sae + 1} features; cold first render (loading artifacts) {cold:.2f} s")
    print(f"feature page renders (n={a.n}): median {med:.3f} s, min {min(times):.3f} s, max {mx:.3f} s "
          f"(target {TARGET_S} s)")
    print(f"feature_page_median_s={med:.3f} feature_page_max_s={mx:.3f} ratio_to_target={med / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
