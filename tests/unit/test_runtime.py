"""The run context's thread choice: OMP_NUM_THREADS when set, else the cores the load average leaves idle."""

import os

import torch

from interp.runtime import auto_threads, start_run


def test_auto_threads_honours_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert auto_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert auto_threads() == 3


def test_auto_threads_follows_the_load_average(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert auto_threads() == cores  # an idle machine: every core
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 5.0, 0.0, 0.0))
    assert auto_threads() == 1  # a saturated one: one thread, never 0


def test_start_run_applies_the_thread_count(monkeypatch):
    before = torch.get_num_threads()
    try:
        start_run("cpu", threads=1)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        start_run("cpu", threads=0)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
