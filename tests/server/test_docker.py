"""docker/: the compose file wires the server, Prometheus and Grafana; the dashboard uses our metric names."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def test_compose_has_server_and_prometheus_scraping_it():
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    assert {"sketchserve", "prometheus", "grafana"} <= compose["services"].keys()
    assert compose["services"]["sketchserve"]["build"]["dockerfile"] == "docker/Dockerfile"
    prom = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["sketchserve:8000"]


def test_dashboard_panels_query_exported_metric_names():
    dash = json.loads((DOCKER / "grafana" / "dashboards" / "sketchserve.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for name in ("request_latency_seconds", "time_to_first_token_seconds", "generation_tokens_total",
                 "lut_pool_slots_used", "kv_blocks_used", "gpu_memory_allocated_bytes"):
        assert f"sketchserve_{name}" in exprs


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="docker compose client not installed")
def test_docker_compose_config_is_valid():
    result = subprocess.run(
        ["docker", "compose", "-f", str(DOCKER / "compose.yml"), "config"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_every_cache_of_the_image_lives_in_its_cache_volume():
    """Sketches, tuning choices and Triton's compiled kernels survive a new container: a start without Triton's
    cache compiles ~95 kernels (25-80 s on an H200, benchmarks/NOTES.md twenty-second session)."""
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert 'VOLUME ["/cache"]' in dockerfile
    assert "SKETCHSERVE_CACHE=/cache " in dockerfile and "TRITON_CACHE_DIR=/cache/triton " in dockerfile
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    assert any(v.endswith(":/cache") for v in compose["services"]["sketchserve"]["volumes"])


def test_the_image_builds_on_the_torch_and_triton_the_figures_were_measured_on():
    """The default base image is a pytorch/pytorch tag with torch >= 2.9 (Triton >= 3.5, which has Gluon: without it
    the wgmma prefill and bucket kernels are not there and Hopper serves on the slower kernels) and a CUDA runtime."""
    dockerfile = (DOCKER / "Dockerfile").read_text()
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, flags=re.M)
    assert "FROM ${BASE_IMAGE}" in dockerfile
    match = re.fullmatch(r"pytorch/pytorch:(\d+)\.(\d+)\.\d+-cuda[\d.]+-cudnn\d+-runtime", base)
    assert match and (int(match[1]), int(match[2])) >= (2, 9), base
