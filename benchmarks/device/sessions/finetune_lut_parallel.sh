# One device call, the last of two or three in a row that carry the model (halves from split_in_two.sh, or the
# 3 parts of device-prep; this call carries the last one + .device-carry/tasks + the SHA256): the LUT fine-tunes
# of issue 4, side by side on the one GPU (the 135M model leaves it mostly idle; each process sketches its own
# gpr into its own directory). Three at once took ~9.5 min on an H200 (one alone: 3.5-4 min): FT_METHODS picks.
# Merge with the stored zero_shot/lora runs here: finetune_vs_lora.py --report-only --results DIR.
source benchmarks/device/prep.sh
assemble_model || exit 1
mkdir -p /root/tasks $OUT/runs && cp .device-carry/tasks/*.json /root/tasks/
python3 -c "import sys; sys.path.insert(0, 'benchmarks'); from pathlib import Path; from finetune_vs_lora import hf_model_dir; hf_model_dir('/root/m/model.gguf', '/root/m/hf', Path('/tmp'))" || exit 1
for method in ${FT_METHODS:-lut_gpr4 lut_gpr1 lut_gpr8}; do
  tag=${method/@/_lr}
  OMP_NUM_THREADS=3 timeout ${FT_TIMEOUT:-535} python3 benchmarks/finetune_vs_lora.py --model /root/m/model.gguf \
    --hf-cache /root/m/hf --data-dir /root/tasks --sketch-root /root/sk_$tag --results $OUT/runs \
    --out-dir /tmp/rep_$tag --methods $method > $OUT/ft_$tag.log 2>&1 &
done
wait
grep -h "accuracy\|total\|Error" $OUT/ft_*.log | grep -v "it/s\|step/s"
