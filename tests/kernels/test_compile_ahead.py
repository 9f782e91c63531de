"""compile_ahead: a warm-up's launches only compile, on a pool of threads; the autotuner submits every candidate
inside it and times none; off under the interpreter; on CUDA the real pass after the block compiles nothing."""

import threading
from contextlib import contextmanager

import pytest
import torch
import triton
import triton.language as tl
from triton.runtime.jit import JITFunction

from kernels import autotune, compile_ahead
from kernels.triton_common import interpreting


def test_under_the_interpreter_the_block_is_off_and_its_calls_run_as_usual(monkeypatch):
    monkeypatch.setattr(compile_ahead, "interpreting", lambda: True)
    run = JITFunction.run
    with compile_ahead.compile_ahead(threads=4) as ahead:
        assert not ahead and not compile_ahead.compiling_only() and JITFunction.run is run


def test_one_thread_turns_it_off(monkeypatch):
    monkeypatch.setattr(compile_ahead, "interpreting", lambda: False)
    with compile_ahead.compile_ahead(threads=1) as ahead:
        assert not ahead and not compile_ahead.compiling_only()


def test_the_thread_count_comes_from_the_environment_or_the_cores(monkeypatch):
    monkeypatch.setenv("SKETCHSERVE_COMPILE_THREADS", "3")
    assert compile_ahead.compile_threads() == 3
    monkeypatch.setenv("SKETCHSERVE_COMPILE_THREADS", "many")
    with pytest.raises(ValueError, match="SKETCHSERVE_COMPILE_THREADS"):
        compile_ahead.compile_threads()
    monkeypatch.delenv("SKETCHSERVE_COMPILE_THREADS")
    assert 1 <= compile_ahead.compile_threads() <= compile_ahead.MAX_THREADS


@pytest.mark.skipif(tuple(int(p) for p in triton.__version__.split(".")[:2]) < (3, 6),
                    reason="an older Triton (no AsyncCompileMode): the block is off, the start compiles in turn")
def test_this_triton_has_the_async_compile_it_relies_on():
    """If a Triton upgrade drops AsyncCompileMode or run's warmup flag, the block turns itself off: this says so."""
    assert compile_ahead._async_compile_mode() is not None


def test_inside_the_block_every_launch_only_compiles_in_the_pool_and_run_is_restored_after(monkeypatch):
    launches, modes = [], []

    def recorded_run(self, *args, grid, warmup, **kwargs):
        launches.append((args, grid, warmup, kwargs))

    class FakeMode:  # stands for Triton's AsyncCompileMode: entered with the pool, waits on exit
        def __init__(self, executor, ignore_errors=False):
            modes.append({"executor": executor, "ignore_errors": ignore_errors, "exited": False})

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            modes[-1]["exited"] = True

    monkeypatch.setattr(JITFunction, "run", recorded_run)
    monkeypatch.setattr(compile_ahead, "interpreting", lambda: False)
    monkeypatch.setattr(compile_ahead, "_async_compile_mode", lambda: FakeMode)
    with compile_ahead.compile_ahead(threads=3) as ahead:
        assert ahead and compile_ahead.compiling_only()
        JITFunction.run(object(), 1, 2, grid=(4,), warmup=False, num_warps=2)
        other = threading.Thread(target=lambda: JITFunction.run(object(), 3, grid=(1,), warmup=False))
        other.start()
        other.join()
        assert not modes[0]["exited"]
    # compiled, not launched; another thread's launch meanwhile ran as usual
    assert launches == [((1, 2), (4,), True, {"num_warps": 2}), ((3,), (1,), False, {})]
    assert modes[0]["exited"] and modes[0]["ignore_errors"] and modes[0]["executor"]._max_workers == 3
    assert JITFunction.run is recorded_run and not compile_ahead.compiling_only()


def test_inside_the_block_each_variant_compiles_once_and_compile_is_restored_after(monkeypatch):
    """Triton's _do_compile per (kernel, device, specialization key): a variant's further calls in the block get its
    first call's result; outside the block (and in other threads) every call goes through."""
    compiles = []

    def recorded_compile(self, key, signature, device, constexprs, options, attrs, warmup):
        compiles.append((self, key))
        return f"kernel {len(compiles)}"

    class FakeMode:
        def __init__(self, executor, ignore_errors=False):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(JITFunction, "_do_compile", recorded_compile)
    monkeypatch.setattr(compile_ahead, "interpreting", lambda: False)
    monkeypatch.setattr(compile_ahead, "_async_compile_mode", lambda: FakeMode)
    a, b = object(), object()
    with compile_ahead.compile_ahead(threads=2):
        first = JITFunction._do_compile(a, "k1", None, 0, None, None, None, True)
        again = JITFunction._do_compile(a, "k1", None, 0, None, None, None, True)
        other_key = JITFunction._do_compile(a, "k2", None, 0, None, None, None, True)
        other_kernel = JITFunction._do_compile(b, "k1", None, 0, None, None, None, True)
        other_thread = []
        t = threading.Thread(target=lambda: other_thread.append(
            JITFunction._do_compile(a, "k1", None, 0, None, None, None, False)))
        t.start()
        t.join()
    assert first == again == "kernel 1" and other_key == "kernel 2" and other_kernel == "kernel 3"
    assert other_thread == ["kernel 4"]  # a thread outside the block compiles as usual
    assert JITFunction._do_compile is recorded_compile
    JITFunction._do_compile(a, "k1", None, 0, None, None, None, False)
    assert len(compiles) == 5  # after the block: every call again


def test_an_error_in_the_block_still_restores_run(monkeypatch):
    monkeypatch.setattr(compile_ahead, "interpreting", lambda: False)
    run = JITFunction.run
    with pytest.raises(RuntimeError, match="boom"):
        with compile_ahead.compile_ahead(threads=2):
            raise RuntimeError("boom")
    assert JITFunction.run is run and not compile_ahead.compiling_only()


@contextmanager
def _tuning_on(monkeypatch):
    monkeypatch.setattr(autotune, "_MEMORY", {})
    monkeypatch.setattr(autotune, "_FAST", {})
    monkeypatch.setattr(autotune, "_LOADED", set())
    monkeypatch.setattr(autotune, "tuning_enabled", lambda device: True)
    monkeypatch.setattr(autotune, "_save", lambda path, entry, config: None)
    yield


def test_compiling_only_the_autotuner_submits_every_candidate_times_none_and_records_nothing(monkeypatch):
    launched = []
    speed = {"default": 3.0, "a": 1.0, "b": 2.0}
    with _tuning_on(monkeypatch):
        monkeypatch.setattr(autotune, "time_ms", lambda fn: (fn(), speed[launched[-1]])[1])
        monkeypatch.setattr(autotune, "compiling_only", lambda: True)
        args = ("decode", ("k",), lambda: [{"n": "a"}, {"n": "b"}], lambda c: launched.append(c["n"]),
                lambda: {"n": "default"}, torch.device("cpu"))  # fmt: skip
        assert autotune.pick_config(*args) == {"n": "default"}
        assert launched == ["default", "a", "b"]  # each compiled once, none timed
        monkeypatch.setattr(autotune, "compiling_only", lambda: False)
        assert autotune.pick_config(*args) == {"n": "a"}  # the real pass times them: nothing was recorded


def test_compiling_only_a_candidate_that_fails_is_skipped(monkeypatch):
    def launch(config):
        if config["n"] == "bad":
            raise RuntimeError("out of resources")

    with _tuning_on(monkeypatch):
        monkeypatch.setattr(autotune, "compiling_only", lambda: True)
        got = autotune.pick_config("decode", ("k",), lambda: [{"n": "bad"}, {"n": "ok"}], launch,
                                   lambda: {"n": "default"}, torch.device("cpu"))  # fmt: skip
    assert got == {"n": "default"}


@triton.jit
def _add_one_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n) + 1.0, mask=offs < n)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or interpreting(), reason="needs CUDA")
def test_on_cuda_the_block_compiles_without_running_and_the_real_launch_compiles_nothing(monkeypatch):
    x = torch.arange(1000, dtype=torch.float32, device="cuda")
    y = torch.full_like(x, -7.0)
    blocks = (64, 128, 256, 512)  # four variants compiled side by side (BLOCK 1000 + this test's id: a fresh key)
    with compile_ahead.compile_ahead(threads=4) as ahead:
        for block in blocks:
            _add_one_kernel[(triton.cdiv(1000, block),)](x, y, 1000, BLOCK=block)
    assert ahead
    torch.cuda.synchronize()
    assert (y == -7.0).all()  # nothing ran
    compiles = []
    real = JITFunction._do_compile
    monkeypatch.setattr(JITFunction, "_do_compile", lambda self, *a, **k: compiles.append(1) or real(self, *a, **k))
    for block in blocks:
        y.fill_(-7.0)
        _add_one_kernel[(triton.cdiv(1000, block),)](x, y, 1000, BLOCK=block)
        torch.cuda.synchronize()
        assert torch.equal(y, x + 1)
    assert compiles == []
