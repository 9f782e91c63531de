"""The autotuner's clock (kernels/timing.py) times GPU work as the server replays it, not the host's launches."""

import time

import pytest
import torch

from kernels.timing import graph_time_ms

pytestmark = pytest.mark.gpu


def test_host_time_between_launches_is_not_counted():
    x = torch.ones(1 << 10, device="cuda")

    def slow_host_tiny_kernel():
        time.sleep(0.002)  # 2 ms of host work per call, as a slow Python wrapper would spend
        x.add_(1.0)

    assert graph_time_ms(slow_host_tiny_kernel, reps=5) < 0.2


def test_time_grows_with_the_work():
    small, large = (torch.empty(n, dtype=torch.float16, device="cuda") for n in (16 << 20, 64 << 20))
    t_small = graph_time_ms(lambda: small.mul_(1.0))
    t_large = graph_time_ms(lambda: large.mul_(1.0))
    assert 2.5 < t_large / t_small < 6.0  # 4x the bytes, both far beyond launch latency


def test_a_failing_call_raises_before_any_capture():
    def broken():
        raise RuntimeError("out of resources")

    with pytest.raises(RuntimeError, match="out of resources"):
        graph_time_ms(broken)
    assert not torch.cuda.is_current_stream_capturing()


def test_the_work_before_each_call_is_not_counted():
    x, big = torch.ones(1 << 10, device="cuda"), torch.empty(64 << 20, dtype=torch.float16, device="cuda")
    alone = graph_time_ms(lambda: x.add_(1.0))
    assert graph_time_ms(lambda: x.add_(1.0), preceded_by=lambda: big.mul_(1.0)) < alone + 0.02
    assert graph_time_ms(lambda: big.mul_(1.0), preceded_by=lambda: x.add_(1.0)) > 5 * alone
