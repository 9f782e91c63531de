"""`sketchserve serve`: the HTTP server on a sketched base (the embedded default model when no --model)."""

from __future__ import annotations

import argparse
import logging

# flag -> Settings field; each also reads SKETCHSERVE_<FIELD> from the environment (flags win).
FLAGS = {
    "--host": ("host", str, "interface to listen on (env SKETCHSERVE_HOST; default 127.0.0.1)"),
    "--port": ("port", int, "TCP port (env SKETCHSERVE_PORT; default 8000)"),
    "--model": ("model", str, "sketched base directory; or 'default', a Hugging Face directory or a .gguf file, "
                "sketched on first use and cached (env SKETCHSERVE_MODEL)"),
    "--sketch-bits": ("sketch_bits", int, "bits per code when --model is sketched at start: 2, 3, 4 (default 4; env "
                      "SKETCHSERVE_SKETCH_BITS)"),
    "--sketch-gpr": ("sketch_gpr", int, "LUT groups per row when --model is sketched at start: 1, 2, 4, 8 (default "
                     "4; env SKETCHSERVE_SKETCH_GPR)"),
    "--lut-store": ("lut_store", str, "task LUT store directory (env SKETCHSERVE_LUT_STORE)"),
    "--lut-keep-versions": ("lut_keep_versions", int, "stored versions kept per task, for download or roll-back "
                            "(default 3; env SKETCHSERVE_LUT_KEEP_VERSIONS)"),
    "--device": ("device", str, "auto, cpu or cuda[:N] (env SKETCHSERVE_DEVICE)"),
    "--max-batch-size": ("max_batch_size", int, "most sequences per decode step (env SKETCHSERVE_MAX_BATCH_SIZE)"),
    "--decode-steps": ("decode_steps", int, "decode steps per schedule while all requests decode; 0 = auto (4 on "
                       "CUDA, 1 on the CPU), 1 = off (env SKETCHSERVE_DECODE_STEPS)"),
    "--overlap-scheduling": ("overlap_scheduling", str, "auto, on or off: schedule the next step while the GPU "
                             "runs the one before; auto = on for CUDA (env SKETCHSERVE_OVERLAP_SCHEDULING)"),
    "--max-tasks-resident": ("max_tasks_resident", int, "LUT pool slots (env SKETCHSERVE_MAX_TASKS_RESIDENT)"),
    "--max-waiting": ("max_waiting", int, "admission queue bound (env SKETCHSERVE_MAX_WAITING)"),
    "--max-waiting-per-task": ("max_waiting_per_task", int, "most waiting requests of one task (0: 3/4 of "
                               "--max-waiting; env SKETCHSERVE_MAX_WAITING_PER_TASK)"),
    "--kv-cache-mb": ("kv_cache_mb", int, "KV cache budget in MiB, 0 = auto (env SKETCHSERVE_KV_CACHE_MB)"),
    "--int8-max-lut-distance": ("int8_max_lut_distance", float, "the int8 activation mode: the int8 kernel serves "
                                "a step only if each of its task LUTs lies within this relative distance of the "
                                "base's (default 0.05; env SKETCHSERVE_INT8_MAX_LUT_DISTANCE)"),
    "--cpu-weight-cache-mb": ("cpu_weight_cache_mb", int,
                              "CPU only: dequantized weights kept, MiB; unset = every resident task's, within "
                              "half the available memory (env SKETCHSERVE_CPU_WEIGHT_CACHE_MB)"),
    "--dtype": ("dtype", str, "activations, KV cache and LUT pool: auto (float16 on CUDA, float32 on the CPU), "
                "float16, bfloat16 or float32 (env SKETCHSERVE_DTYPE)"),
    "--cpu-weight-dtype": ("cpu_weight_dtype", str, "CPU only: auto, float32 (exact), bfloat16 (half the memory "
                           "per task, faster for batches) or int8 (fastest for one sequence; half of bf16's "
                           "memory, 1.5x once batches come) (env SKETCHSERVE_CPU_WEIGHT_DTYPE)"),
    "--api-keys-file": ("api_keys_file", str, "API keys file; unset = open (env SKETCHSERVE_API_KEYS_FILE)"),
    "--log-level": ("log_level", str, "debug, info, warning (env SKETCHSERVE_LOG_LEVEL)"),
}
SWITCHES = {  # flag -> (Settings field, the value it sets, help)
    "--allow-open": ("allow_open", True, "serve without API keys on a non-loopback host (env SKETCHSERVE_ALLOW_OPEN)"),
    "--no-prefix-caching": ("prefix_caching", False, "recompute every prompt in full instead of reusing the KV "
                            "blocks of prefixes computed before (env SKETCHSERVE_PREFIX_CACHING=0)"),
    "--no-tune-at-start": ("tune_at_start", False, "CUDA only: leave kernel autotuning to each shape's first request "
                           "instead of the start (env SKETCHSERVE_TUNE_AT_START=0)"),
    "--exact-activations": ("int8_activations", False, "CUDA (sm_90): serve every step exact, without the int8 "
                            "activation mode that decode batches of 9-16 rows over many tasks take by default "
                            "(int8 activations corrected through the base LUT: 1.17-1.26x the step; as accurate as "
                            "fp16 for the base and a real task LUT; steps with a task far from the base run exact "
                            "anyway) (env SKETCHSERVE_INT8_ACTIVATIONS=0)"),
    "--int8-activations": ("int8_activations", True, "the int8 activation mode where it runs (the default) "
                           "(env SKETCHSERVE_INT8_ACTIVATIONS=1)"),
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    for flag, (dest, type_, help_) in FLAGS.items():
        parser.add_argument(flag, dest=dest, type=type_, default=None, help=help_)
    for flag, (dest, value, help_) in SWITCHES.items():
        parser.add_argument(flag, dest=dest, action="store_const", const=value, default=None, help=help_)


def run(name: str, args: argparse.Namespace) -> int:
    import uvicorn

    from server.api.app import SHUTDOWN_DRAIN_S, create_app
    from server.settings import Settings

    overrides = {k: v for k, v in vars(args).items() if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app(settings)
    print(f"sketchserve: serving {settings.model!r} on http://{settings.host}:{settings.port} "
          f"(docs at /docs; /ready turns 200 once the model is loaded)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                timeout_graceful_shutdown=int(SHUTDOWN_DRAIN_S))
    return 0
