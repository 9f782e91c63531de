# sourced at the start of every device call: wheels on PYTHONPATH, the model part(s) collected in /root/m
mkdir -p /root/m && cp .device-carry/model/part_* /root/m/ 2>/dev/null
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device-carry/wheels/*.whl 2>&1 | tail -2
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
ls -la /root/m
