# Sourced by scripts/test and scripts/demo. Defines ROOT and VENV, and ensure_venv:
# create or reuse .venv and install -e '.[dev]' when pyproject.toml changed since the
# last install (its hash is kept in .venv/.pyproject.sha256). Needs only python3.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

ensure_venv() {
    local stamp="$VENV/.pyproject.sha256" want have=""
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        echo "==> creating $VENV"
        python3 -m venv --clear "$VENV"
    fi
    want=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$ROOT/pyproject.toml")
    [[ -f "$stamp" ]] && have=$(<"$stamp")
    if [[ "$want" != "$have" ]]; then
        echo "==> installing -e '.[dev]' into $VENV (pyproject.toml changed)"
        "$VENV/bin/python" -m pip install -qq --disable-pip-version-check -e "$ROOT[dev]" ||
            { echo "ERROR: pip install -e '.[dev]' failed (see above); delete .venv to start afresh." >&2; exit 1; }
        echo "$want" >"$stamp"
    fi
    export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
}
