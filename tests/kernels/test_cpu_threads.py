"""A helper thread made single-threaded runs its torch ops without an OpenMP team of its own (whose workers would
make libgomp throttle the engine's team), and the other threads keep theirs."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from kernels.cpu_threads import _openmp_runtime, single_threaded_torch
from tests.native_threads import threads_of_this_process

needs_openmp = pytest.mark.skipif(
    _openmp_runtime() is None or (os.cpu_count() or 1) < 2, reason="no OpenMP runtime or one CPU"
)


def run_in_helper(single: bool) -> dict:
    """A large matmul on a new helper thread: the threads it added to the process and its torch thread count."""
    out: dict = {}

    def helper() -> None:
        out["took"] = single_threaded_torch() if single else None
        before = threads_of_this_process()
        torch.randn(1024, 1024) @ torch.randn(1024, 1024)  # large enough for every intra-op thread
        out["added"] = len(threads_of_this_process() - before)  # new ones (other tests' threads may end meanwhile)
        out["torch_threads"] = torch.get_num_threads()

    thread = threading.Thread(target=helper)
    thread.start()
    thread.join()
    return out


@needs_openmp
def test_a_single_threaded_helper_starts_no_openmp_workers_and_the_main_thread_keeps_its_team():
    main_threads = torch.get_num_threads()
    assert main_threads >= 2
    plain = run_in_helper(single=False)
    assert plain["added"] >= 1 and plain["torch_threads"] == main_threads  # the helper's own team: what it avoids
    single = run_in_helper(single=True)
    assert single["took"] is True and single["added"] == 0 and single["torch_threads"] == 1
    assert torch.get_num_threads() == main_threads  # only the helper changed


def test_the_main_thread_is_refused():
    with pytest.raises(ValueError, match="helper threads"):
        single_threaded_torch()
