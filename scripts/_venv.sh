# Sourced by scripts/test, scripts/demo and scripts/local_model.sh. Defines ROOT, VENV and
# ensure_venv: create or reuse the virtual environment and install what it needs.
#
# By default the environment is pinned: requirements/dev.lock (made by scripts/lock from
# pyproject.toml, with hashes) is installed into .venv, then plait itself (editable, no
# dependencies). It is reinstalled when pyproject.toml or the lock changes (their hash is
# kept in .venv/.installed.sha256). PLAIT_LATEST=1 (scripts/test --latest) uses .venv-latest
# instead, with the newest releases that pyproject.toml's ranges allow, upgraded on every
# call: that is how an upgrade is tried before scripts/lock makes it the pinned one.
# Needs only python3.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK="$ROOT/requirements/dev.lock"
if [[ "${PLAIT_LATEST:-}" == 1 ]]; then
    VENV="$ROOT/.venv-latest"
else
    VENV="$ROOT/.venv"
fi

_pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

ensure_venv() {
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        echo "==> creating $VENV"
        python3 -m venv --clear "$VENV"
    fi
    if [[ "${PLAIT_LATEST:-}" == 1 ]]; then
        if [[ -z "${_PLAIT_LATEST_DONE:-}" ]]; then
            echo "==> installing the newest releases of -e '.[dev]' and requirements/local.in into $VENV"
            _pip install -qq --upgrade --upgrade-strategy eager -e "$ROOT[dev]" \
                -r "$ROOT/requirements/local.in" ||
                { echo "ERROR: installing the newest releases failed (see above)." >&2; exit 1; }
            export _PLAIT_LATEST_DONE=1
        fi
    else
        local stamp="$VENV/.installed.sha256" want have=""
        want=$(cat "$ROOT/pyproject.toml" "$LOCK" | python3 -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')
        [[ -f "$stamp" ]] && have=$(<"$stamp")
        if [[ "$want" != "$have" ]]; then
            echo "==> installing the pinned environment (requirements/dev.lock) into $VENV"
            _pip install -qq --require-hashes -r "$LOCK" ||
                { echo "ERROR: pip install -r requirements/dev.lock failed (see above); delete .venv to start afresh." >&2; exit 1; }
            _pip install -qq --no-deps -e "$ROOT" ||
                { echo "ERROR: pip install -e . failed (see above)." >&2; exit 1; }
            echo "$want" >"$stamp"
        fi
    fi
    export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
}
