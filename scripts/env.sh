# Sourced by scripts/*: the environment that esmdb's build, tests and tools need.
# Paths: ESMDB_VENV (default: <repo>/.venv) holds PyTorch (libtorch for tch) and the Python reference
# implementations, ESMDB_ESMC_VENV (default: $ESMDB_VENV-esmc) the ESM C one; CARGO_TARGET_DIR defaults to
# cargo's own (<repo>/target).
ESMDB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ESMDB_ROOT
export ESMDB_VENV="${ESMDB_VENV:-$ESMDB_ROOT/.venv}"
export VIRTUAL_ENV="$ESMDB_VENV"
export PATH="$ESMDB_VENV/bin:$HOME/.local/bin:$HOME/.cargo/bin:$PATH"
# tch's build script asks this venv's Python where libtorch is (torch==2.11.0 wheel).
export LIBTORCH_USE_PYTORCH=1
export ESMDB_PYTHON="$ESMDB_VENV/bin/python"
# The ESM C reference (EvolutionaryScale's `esm`: Python >= 3.12, and its import name clashes with fair-esm's)
# lives in a venv of its own, beside the main one unless ESMDB_ESMC_VENV says otherwise.
export ESMDB_ESMC_VENV="${ESMDB_ESMC_VENV:-${ESMDB_VENV%/}-esmc}"
export ESMDB_ESMC_PYTHON="$ESMDB_ESMC_VENV/bin/python"
