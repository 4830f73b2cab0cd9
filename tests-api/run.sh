#!/usr/bin/env bash
# The Python suites of `./mvnw verify`: the weaseldb client's unit tests, then the
# out-of-process API suite in tests-api/ (when it has tests).
#
# Env (set by Maven; defaults let a developer run it by hand from any directory):
#   WEASELDB_BUILD_DIR     Maven's target/ (venv and scratch files go there), default ./target
#   WEASELDB_JAVA          java >= 21, for the API suite to start the server
#   WEASELDB_JAR           the server jar (may not exist yet)
#   WEASELDB_S3PROXY_JAR   the S3Proxy jar for the API suite
#   WEASELDB_PYTHON        python to build the venv with (default python3, must be >= 3.11)
#
# Quiet on success (one line per suite), the full output on failure, non-zero on failure.
# Writes nothing into the source tree: the package is built from a copy under the build
# dir, bytecode is not written, and pytest's cache is off.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build_dir="${WEASELDB_BUILD_DIR:-$root/target}"
python="${WEASELDB_PYTHON:-python3}"
venv="$build_dir/venv"
work="$build_dir/python"

export PYTHONDONTWRITEBYTECODE=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
export WEASELDB_BUILD_DIR="$build_dir"
export WEASELDB_JAVA="${WEASELDB_JAVA:-java}"
export WEASELDB_JAR="${WEASELDB_JAR:-$build_dir/weaseldb.jar}"
export WEASELDB_S3PROXY_JAR="${WEASELDB_S3PROXY_JAR:-$build_dir/s3proxy/s3proxy.jar}"

fail() {
    echo "tests-api/run.sh: $1" >&2
    if [[ -n "${2:-}" && -f "$2" ]]; then
        echo "----- $2 -----" >&2
        cat "$2" >&2
        echo "-----" >&2
    fi
    exit 1
}

mkdir -p "$work"
log="$work/run.log"

# 1. A virtualenv with a python >= 3.11, reused across builds while it still works.
if ! command -v "$python" >/dev/null 2>&1; then
    fail "no $python on PATH (need Python >= 3.11; set WEASELDB_PYTHON)"
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    fail "$("$python" --version 2>&1) is too old: need Python >= 3.11 (set WEASELDB_PYTHON)"
fi
if ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
    rm -rf "$venv"
    "$python" -m venv "$venv" >"$log" 2>&1 || fail "cannot create the virtualenv $venv" "$log"
fi
vpy="$venv/bin/python"

# 2. Pinned test requirements, installed again only when the pin file changes.
req="$here/requirements.txt"
stamp="$venv/.weaseldb-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    "$vpy" -m pip install -q -r "$req" >"$log" 2>&1 || fail "pip install -r $req failed" "$log"
    echo "$want" >"$stamp"
fi

# 3. The client package, built from a copy so the build leaves nothing in the source tree.
rm -rf "$work/clients-python"
mkdir -p "$work/clients-python"
(cd "$root/clients-python" && tar --exclude='./build' --exclude='*.egg-info' --exclude='__pycache__' \
    --exclude='.pytest_cache' --exclude='.mypy_cache' -cf - .) | (cd "$work/clients-python" && tar -xf -)
"$vpy" -m pip install -q --no-deps --no-build-isolation --force-reinstall "$work/clients-python" >"$log" 2>&1 \
    || fail "pip install clients-python failed" "$log"

run_pytest() {  # name, rootdir, tests...
    local name="$1" rootdir="$2"
    shift 2
    local out="$work/pytest-$name.log"
    # cd away from the sources so `import weaseldb` resolves to the installed package.
    if (cd "$work" && "$vpy" -m pytest -p no:cacheprovider -q --rootdir "$rootdir" "$@") >"$out" 2>&1; then
        echo "tests-api/run.sh: $name: $(tail -n 1 "$out" | sed 's/^=* *//; s/ *=*$//')"
    else
        fail "$name failed" "$out"
    fi
}

# 4. The client's unit tests (no server needed).
run_pytest client-unit "$root/clients-python" -c "$root/clients-python/pyproject.toml" "$root/clients-python/tests"

# 5. The API suite, once it has tests; it starts the server jar itself.
shopt -s nullglob globstar
api_tests=("$here"/**/test_*.py "$here"/**/*_test.py)
shopt -u globstar
if (( ${#api_tests[@]} > 0 )); then
    # Server data dirs and logs go under the build dir (pytest empties it at the start).
    run_pytest api "$here" --basetemp "$work/api-tmp" "$here"
else
    echo "tests-api/run.sh: api: no tests yet"
fi
