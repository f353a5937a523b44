"""The shard writer's safetensors files load with safetensors itself, and their recorded checksum is the file's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from safetensors import safe_open

from interp.activations.files import (
    ALIGN,
    StreamingFile,
    aligned_empty,
    make_durable,
    supports_direct_io,
    write_safetensors_tmp,
)
from interp.activations.manifest import CacheError, Manifest, checksum_file


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int8, torch.int64])
def test_written_files_round_trip_through_safetensors(tmp_path, dtype, direct):
    a = (torch.randn(37, 5) * 50).to(dtype)
    b = torch.arange(11, dtype=torch.int32)
    pending = write_safetensors_tmp(tmp_path / "x.safetensors", {"a": a, "b": b}, {"k": "v"}, tmp_path, direct)
    assert pending.tmp.exists() and not pending.final.exists()
    make_durable(pending)
    assert not pending.tmp.exists() and pending.record.path == "x.safetensors"
    assert pending.record.checksum == checksum_file(tmp_path / "x.safetensors")
    assert pending.record.bytes == (tmp_path / "x.safetensors").stat().st_size
    with safe_open(str(tmp_path / "x.safetensors"), framework="pt") as f:
        assert f.metadata() == {"k": "v"}
        assert torch.equal(f.get_tensor("a"), a) and torch.equal(f.get_tensor("b"), b)
        assert torch.equal(f.get_slice("a")[3:9], a[3:9])


def test_direct_io_writes_aligned_data_and_the_unaligned_tail(tmp_path):
    """An aligned buffer goes through O_DIRECT (where the file system has it) up to its last whole block; the tail
    and a second, misaligned tensor take the buffered path. Every byte lands where safetensors expects it."""
    big = aligned_empty((1000, 37), torch.float32)  # 148,000 bytes: 36 whole 4096-byte blocks and a tail
    big.copy_(torch.randn(1000, 37))
    odd = torch.randn(7, 3)
    path = tmp_path / "d.safetensors"
    make_durable(write_safetensors_tmp(path, {"big": big, "odd": odd}, {}, tmp_path, direct=True))
    head = path.read_bytes()[:8]
    assert (8 + int.from_bytes(head, "little")) % ALIGN == 0  # data starts on a block boundary
    with safe_open(str(path), framework="pt") as f:
        assert torch.equal(f.get_tensor("big"), big) and torch.equal(f.get_tensor("odd"), odd)
    assert big.data_ptr() % ALIGN == 0


@pytest.mark.parametrize("direct", [False, True])
def test_a_file_streamed_in_row_ranges_equals_one_written_at_once(tmp_path, direct):
    """The cache hands the writer rows as batches fill: writing [0, k) while rows >= k are still being computed
    (left as garbage here, filled afterwards) gives the same bytes and checksum as one write of the final tensor.
    Rows of 37 floats (148 bytes) make every range end off a block boundary."""
    acts = aligned_empty((1000, 37), torch.float32)
    acts.fill_(float("nan"))
    final = torch.randn(1000, 37)
    f = StreamingFile(tmp_path / "s.safetensors", {"activations": acts}, {"k": "v"}, tmp_path, direct)
    assert f.tmp.stat().st_size == f.size  # created at its final size: a full disk fails before any write
    for end in (250, 251, 700, 1000):
        acts[:end].copy_(final[:end])
        f.advance(f.header_bytes + end * 37 * 4)
        assert f.pos % ALIGN == 0 and f.pos <= f.header_bytes + end * 37 * 4
    streamed = f.finish()
    make_durable(streamed)
    once = write_safetensors_tmp(tmp_path / "o.safetensors", {"activations": final}, {"k": "v"}, tmp_path)
    make_durable(once)
    assert (tmp_path / "s.safetensors").read_bytes() == (tmp_path / "o.safetensors").read_bytes()
    assert streamed.record.checksum == once.record.checksum == checksum_file(tmp_path / "s.safetensors")


def test_manifest_rejects_foreign_json(tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(CacheError, match="not an activation cache manifest"):
        Manifest.load(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text('{"format": ')
    with pytest.raises(CacheError, match="not valid JSON"):
        Manifest.load(tmp_path / "manifest.json")


def test_atomic_write_replaces_whole_files_and_cleans_up_after_a_failure(tmp_path):
    from interp.atomic import atomic_write, atomic_write_text

    target = tmp_path / "a.json"
    atomic_write_text(target, "old")
    assert target.read_text() == "old" and (target.stat().st_mode & 0o777) == 0o666 & ~_umask()

    def fails(p):
        p.write_text("half")
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        atomic_write(target, fails, durable=True)
    assert target.read_text() == "old" and sorted(f.name for f in tmp_path.iterdir()) == ["a.json"]
    atomic_write(target, lambda p: p.write_text("new"), durable=True)
    assert target.read_text() == "new" and sorted(f.name for f in tmp_path.iterdir()) == ["a.json"]


def _umask() -> int:
    import os

    old = os.umask(0)
    os.umask(old)
    return old


def test_direct_io_probes_of_concurrent_processes_do_not_collide(tmp_path):
    """Every rank of a torchrun group probes the shards folder at once; a shared probe name let one rank delete the
    file another was opening (FileNotFoundError, seen as a rare torchrun-test failure)."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: supports_direct_io(tmp_path), range(400)))
    assert len(set(answers)) == 1  # the same answer every time, and no probe raised
    assert not list(tmp_path.iterdir())  # every probe file removed
