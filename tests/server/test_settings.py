"""Settings: each serve flag and SKETCHSERVE_* variable reaches the engine's config; bad values are refused."""

import argparse

import pytest
import torch
from pydantic import ValidationError

from server.cli_serve import add_arguments
from server.config import EngineConfig
from server.settings import Settings

from .conftest import create_engine


def settings_from_flags(*argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments("serve", parser)
    return Settings(**{k: v for k, v in vars(parser.parse_args(argv)).items() if v is not None})


def test_cpu_weight_flags_reach_the_engine_config():
    settings = settings_from_flags("--cpu-weight-dtype", "bfloat16", "--cpu-weight-cache-mb", "256")
    config = EngineConfig.from_settings(settings)
    assert config.cpu_weight_dtype == "bfloat16" and config.cpu_weight_cache_bytes == 256 << 20
    default = EngineConfig.from_settings(settings_from_flags())
    assert default.cpu_weight_dtype == "auto" and default.cpu_weight_cache_bytes is None  # the engine sizes it
    assert EngineConfig.from_settings(settings_from_flags("--cpu-weight-cache-mb", "0")).cpu_weight_cache_bytes == 0


def test_the_dtype_flag_and_variable_reach_the_engine_config_and_bad_ones_are_refused(monkeypatch):
    config = EngineConfig.from_settings(settings_from_flags("--dtype", "bfloat16", "--device", "cpu"))
    assert config.dtype == "bfloat16" and config.torch_dtype() == torch.bfloat16
    assert EngineConfig.from_settings(settings_from_flags("--device", "cpu")).torch_dtype() == torch.float32  # auto
    monkeypatch.setenv("SKETCHSERVE_DTYPE", "float16")
    assert Settings().dtype == "float16"
    with pytest.raises(ValidationError, match="bfloat16"):
        settings_from_flags("--dtype", "int4")


def test_auto_cpu_weight_dtype_follows_the_cpu(monkeypatch):
    config = EngineConfig(cpu_weight_dtype="auto")
    monkeypatch.setattr("server.config.cpu_has_bf16_units", lambda: True)
    assert config.cpu_weight_torch_dtype() == torch.bfloat16
    monkeypatch.setattr("server.config.cpu_has_bf16_units", lambda: False)
    assert config.cpu_weight_torch_dtype() == torch.float32
    assert EngineConfig(cpu_weight_dtype="float32").cpu_weight_torch_dtype() == torch.float32


def test_cpu_weight_dtype_from_the_environment(monkeypatch):
    monkeypatch.setenv("SKETCHSERVE_CPU_WEIGHT_DTYPE", "bfloat16")
    assert Settings().cpu_weight_dtype == "bfloat16"


def test_an_unknown_cpu_weight_dtype_is_refused_with_the_choices():
    with pytest.raises(ValidationError, match="float32"):
        settings_from_flags("--cpu-weight-dtype", "float16")


def test_start_up_kernel_tuning_is_on_unless_the_flag_or_the_environment_turns_it_off(monkeypatch):
    assert EngineConfig.from_settings(settings_from_flags()).tune_at_start
    assert not EngineConfig.from_settings(settings_from_flags("--no-tune-at-start")).tune_at_start
    monkeypatch.setenv("SKETCHSERVE_TUNE_AT_START", "0")
    assert not EngineConfig.from_settings(Settings()).tune_at_start
    assert settings_from_flags("--allow-open").allow_open  # the other switch still sets True


def test_the_int8_activation_mode_is_on_where_it_runs_unless_the_flag_or_the_environment_turns_it_off(monkeypatch):
    """The server's default: the int8 mode on an sm_90 GPU; on the CPU (and other GPUs) the engine's config leaves it
    off, so the pool measures no LUT distances there; --exact-activations or SKETCHSERVE_INT8_ACTIVATIONS=0 turn it
    off everywhere. The library's EngineConfig stays exact by default."""
    assert settings_from_flags().int8_activations and not EngineConfig().int8_activations
    assert not EngineConfig.from_settings(settings_from_flags("--device", "cpu")).int8_activations
    monkeypatch.setattr("kernels.triton_ops.wgmma_bucket_gpu", lambda: True)  # as on an H100 or H200
    assert EngineConfig.from_settings(settings_from_flags("--device", "cuda")).int8_activations
    exact = settings_from_flags("--device", "cuda", "--exact-activations")
    assert not EngineConfig.from_settings(exact).int8_activations
    assert EngineConfig.from_settings(settings_from_flags("--device", "cuda", "--int8-activations")).int8_activations
    monkeypatch.setattr("kernels.triton_ops.wgmma_bucket_gpu", lambda: False)  # an older GPU
    assert not EngineConfig.from_settings(settings_from_flags("--device", "cuda")).int8_activations
    monkeypatch.setenv("SKETCHSERVE_INT8_ACTIVATIONS", "0")
    assert not Settings().int8_activations


def test_decode_steps_reach_the_scheduler_and_auto_is_single_steps_on_the_cpu(monkeypatch, base):
    assert EngineConfig.from_settings(settings_from_flags("--decode-steps", "8")).scheduler.decode_steps == 8
    monkeypatch.setenv("SKETCHSERVE_DECODE_STEPS", "2")
    assert EngineConfig.from_settings(Settings()).scheduler.decode_steps == 2
    with pytest.raises(ValidationError, match="decode_steps"):
        settings_from_flags("--decode-steps", "-1")
    engine = create_engine(base, decode_steps=0)  # auto, on the CPU
    assert engine.scheduler.config.decode_steps == 1 and engine.config.scheduler.decode_steps == 0


def test_the_kept_lut_versions_reach_the_served_store(tmp_path, monkeypatch):
    """--lut-keep-versions (SKETCHSERVE_LUT_KEEP_VERSIONS): the store of the engine the server loads keeps that many
    versions of a task; 0 is refused."""
    from server.api.state import ServerState
    from server.auth import KeyRing
    from server.metrics import ServerMetrics
    from tests.sketch.tiny_llm import write_tiny_base

    settings = settings_from_flags("--model", str(write_tiny_base(tmp_path / "base")), "--device", "cpu",
                                   "--lut-store", str(tmp_path / "store"), "--lut-keep-versions", "1")  # fmt: skip
    state = ServerState(settings, ServerMetrics(), KeyRing([]))
    state.load_engine()
    try:
        assert state.load_error is None and state.engine.store.keep_versions == 1
    finally:
        state.engine.stop(drain=False, timeout_s=5.0)
    monkeypatch.setenv("SKETCHSERVE_LUT_KEEP_VERSIONS", "5")
    assert Settings().lut_keep_versions == 5
    with pytest.raises(ValidationError, match="lut_keep_versions"):
        settings_from_flags("--lut-keep-versions", "0")
