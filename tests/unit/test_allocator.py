"""retain_freed_memory: after it, a loop that allocates and frees large tensors stops page-faulting.

48 MiB tensors are above the largest threshold glibc's adaptive rule ever sets (32 MiB), so by default each one
is a fresh mmap whose ~12k pages fault in; the count does not depend on what the process did before."""

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
    y = x.repeat(12) * 2
    del y
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    y = x.repeat(12) * 2  # 48 MiB, then 48 MiB more, freed each turn
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
    assert default > 10 * 2 * 12_000  # 10 turns x two 48 MiB tensors of fresh 4 KiB pages
    assert retained < default / 5, (default, retained)
