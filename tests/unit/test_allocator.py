"""retain_freed_memory: after it, a loop that allocates and frees multi-megabyte tensors stops page-faulting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from interp.allocator import retain_freed_memory

LOOP = """
import resource, sys, torch
from interp.allocator import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
x = torch.ones(1 << 20)
for _ in range(3):  # warm up
    (x * 2).sum()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    y = x.repeat(4) * 2  # 16 MiB, then 16 MiB more, freed each turn
    del y
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
"""


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_retaining_freed_memory_stops_the_page_faults():
    if not retain_freed_memory():
        pytest.skip("not glibc")
    default, retained = faults("default"), faults("retain")
    assert default > 40 * 1000  # 40 turns x ~8k fresh 4 KiB pages, give or take the adaptive threshold
    assert retained < default / 5, (default, retained)
