# The default model's perplexity through the served CUDA path with windows of 512 prefilled in chunks of 128 (the
# later chunks attend to cached rows: the lower-right CausalBias path) against the offline LUT model: serving_ppl.sh
# with --token-budget 128, two calls in a row as there (half_aa, then half_ab).
PPL_ARGS="--token-budget 128" source benchmarks/device/sessions/serving_ppl.sh
