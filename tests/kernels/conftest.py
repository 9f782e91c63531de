"""Kernel tests run the Triton kernels themselves: on CUDA when present, else through Triton's CPU
interpreter. TRITON_INTERPRET must be set before any @triton.jit kernel module is imported."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
