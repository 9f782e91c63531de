"""bench_serving's decode point at 16 x 16 (7B shape, 16 tasks) with the decode kernels as shipped or changed, for an
A/B in one process each. argv[1]: a label; argv[2]: gpr; flags:
    --no-wgmma-pdl       the wgmma bucket kernel launched without PDL (as before the thirty-fourth session)
    --attention=JSON     the paged decode attention's config for every batch, e.g. '{"BLOCK_T": 32, "num_warps": 4}'
    --wide=JSON          every WIDE bucket choice with those config items, e.g. '{"RELEASE": 0}'
    --wgmma=JSON         every wgmma-form bucket choice (32-64 rows) with those config items, e.g. '{"ONE_FOLD": 1}'
    --rope-one-chunk     rope_and_store's grid one program a token (as before the thirty-sixth session)
    --batch=N            N sequences over min(N, 16) tasks instead of 16 x 16
    --attention-copy     a decode-only step's attention copied into a buffer (as before the forty-second session)
    --int8-activations   the int8 activation mode (EngineConfig.int8_activations; the server's default on sm_90)
    --int8=JSON          with it, every int8 config the op launches takes those items, e.g. '{"PDL": 1}'
    --all-stages-pdl     the one-token and tensor-core kernels launched with PDL in every config (before the
                         seventy-fifth session the one-token kernel's pipelined configs were)
(The --lut-l2, --split-inner, --lut-smem and --lut-async flags of the thirty-fourth to thirty-sixth sessions timed
options measured slower or no faster, then removed.)"""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks", "device"))
import torch  # noqa: E402
import triton  # noqa: E402
from serving_setup import bs, print_point, serving_engine  # noqa: E402

import kernels.triton_bucket as tb  # noqa: E402
import kernels.triton_bucket_wgmma as tbw  # noqa: E402
import kernels.triton_decode_prmt as tdp  # noqa: E402
import kernels.triton_ops as ops  # noqa: E402
import server.triton_fused as tf  # noqa: E402
from server.model import Attention  # noqa: E402


def attention_config_always(config: dict) -> None:
    """The paged decode attention launches with config for every batch from now on."""
    tf.attention_config = lambda pairs, sms: config


def attention_copied() -> None:
    """Attention.attend writes into a buffer of its own when given none (a copy of the decode attention a layer)."""
    attend = Attention.attend
    Attention.attend = lambda self, q, k, v, meta, kv, fused=None, out=None: attend(
        self, q, k, v, meta, kv, fused, torch.empty_like(q) if out is None else out)


def wgmma_choices_with(extra: dict, wide: bool) -> None:
    """Every WIDE (wide) or wgmma-form (not wide) choice the op launches from now on takes extra (triton_bucket calls
    launch_bucket_wgmma by name)."""
    launch = tb.launch_bucket_wgmma
    tb.launch_bucket_wgmma = lambda *a: launch(*a[:-1], {**a[-1], **extra} if bool(a[-1].get("WIDE")) == wide
                                               else a[-1])  # fmt: skip

def int8_config_with(extra: dict) -> None:
    """Every int8 config the op launches from now on takes extra (triton_ops calls int8_base_corr_config by name)."""
    config_for = ops.int8_base_corr_config
    ops.int8_base_corr_config = lambda n, k, gpr: None if config_for(n, k, gpr) is None else {
        **config_for(n, k, gpr), **extra}


label, gpr = sys.argv[1], int(sys.argv[2])
batch = 16
int8_activations = False
for arg in sys.argv[3:]:
    if arg == "--no-wgmma-pdl":
        tbw.pdl_args = lambda device: {}
    elif arg == "--all-stages-pdl":
        tdp.one_stage_pdl_args = lambda device, config: tdp.pdl_args(device)
    elif arg == "--rope-one-chunk":
        tf.rope_chunks = lambda h, hkv: (1, triton.next_power_of_2(h), triton.next_power_of_2(hkv))
    elif arg.startswith("--wide="):
        wgmma_choices_with(json.loads(arg.split("=", 1)[1]), wide=True)
    elif arg.startswith("--wgmma="):
        wgmma_choices_with(json.loads(arg.split("=", 1)[1]), wide=False)
    elif arg.startswith("--batch="):
        batch = int(arg.split("=", 1)[1])
    elif arg == "--attention-copy":
        attention_copied()
    elif arg == "--int8-activations":
        int8_activations = True
    elif arg.startswith("--int8="):
        int8_config_with(json.loads(arg.split("=", 1)[1]))
    elif arg.startswith("--attention="):
        attention_config_always(json.loads(arg.split("=", 1)[1]))
    else:
        raise SystemExit(f"unknown flag {arg}")
with tempfile.TemporaryDirectory() as tmp:
    engine, base, tasks, args, floor_of = serving_engine(gpr, 16, tmp, int8_activations)
    for _ in range(2):
        p = bs.decode_point(engine, base, tasks[:min(batch, 16)], batch, args, floor_of)
        print_point(label, p, gpr=gpr, batch=batch, tasks=min(batch, 16))
