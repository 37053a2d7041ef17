#!/usr/bin/env bash
# Build and install the Python package (crates/python, PyO3 + maturin) into a virtual
# environment under the build directory and run its tests with pytest, the Ray test included
# (it starts a real local Ray cluster). Needs python3 (3.9+) and PyPI; nothing is downloaded
# while the tests run.
#
#   scripts/python-tests.sh            # venv in ${CARGO_TARGET_DIR:-target}/py-venv
#   PYTHON=python3.11 scripts/python-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build="${CARGO_TARGET_DIR:-target}"
mkdir -p "$build"
build="$(cd "$build" && pwd)"
venv="$build/py-venv"
python="${PYTHON:-python3}"
t0=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "maturin>=1.5,<2" pytest pandas ray
echo "python-tests: venv ready in $(( $(date +%s) - t0 )) s"
# The crate is outside the root workspace, so `cargo fmt --all` and the workspace clippy do not
# see it: lint it here (PyO3's build script asks the venv's Python for its configuration).
cargo fmt --manifest-path crates/python/Cargo.toml -- --check
PYO3_PYTHON="$venv/bin/python" CARGO_TARGET_DIR="$build" \
    cargo clippy --manifest-path crates/python/Cargo.toml --all-targets -- -D warnings
echo "python-tests: crates/python formatted and clippy-clean in $(( $(date +%s) - t0 )) s"
# The documented install (`pip install ./crates/python`), without build isolation so that the
# maturin above and the cargo target directory (crates compiled by `cargo build --release`)
# are reused.
export CARGO_TARGET_DIR="$build"
export PATH="$venv/bin:$PATH"
"$venv/bin/python" -m pip install -q --no-build-isolation --force-reinstall --no-deps ./crates/python
echo "python-tests: package built and installed in $(( $(date +%s) - t0 )) s"
# The CLI, when built, for the tests that compare with it.
if [ -x "$build/release/fabricsim" ]; then
    export FABRICSIM_BIN="$build/release/fabricsim"
fi
# pytest exits 5 when it collects no tests; that fails this script like any other failure.
"$venv/bin/python" -m pytest -q -p no:cacheprovider crates/python/tests
echo "python-tests: done in $(( $(date +%s) - t0 )) s"
