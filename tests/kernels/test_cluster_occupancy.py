"""benchmarks/cluster_occupancy.py: its ctypes mirrors of the CUDA driver's launch structs have the driver's layout
(cuda.h, 64-bit: CUlaunchAttribute 72 bytes, its value at 8; CUlaunchConfig 56 bytes, hStream at 32, numAttrs at
48), so the occupancy query reads the cluster size where the driver looks for it."""

import ctypes
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import cluster_occupancy  # noqa: E402


def test_the_launch_attribute_mirrors_the_drivers_layout():
    assert ctypes.sizeof(cluster_occupancy._LaunchAttribute) == 72
    assert cluster_occupancy._LaunchAttribute.value.offset == 8


def test_the_launch_config_mirrors_the_drivers_layout():
    config = cluster_occupancy._LaunchConfig
    assert ctypes.sizeof(config) == 56
    offsets = (config.shared.offset, config.stream.offset, config.attrs.offset, config.num_attrs.offset)
    assert offsets == (24, 32, 40, 48)
