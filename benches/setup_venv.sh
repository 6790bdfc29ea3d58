#!/usr/bin/env bash
# Creates benches/.venv with PyTorch, NumPy, pandas and PyYAML from PyPI (idempotent).
#
#   benches/setup_venv.sh                      # latest torch on PyPI
#   TORCH_SPEC='torch==2.9.0' benches/setup_venv.sh
#       # the version burn's `tch` feature links against (LIBTORCH_USE_PYTORCH=1)
#
# PyPI's Linux torch wheel is the CUDA build: ~4 GB with its nvidia-* packages, a few
# minutes to install. It runs on CPU-only machines too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"
spec="${TORCH_SPEC:-torch}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Already complete? (torch matching the spec, numpy and pandas importable)
if "$venv/bin/python" - "$spec" <<'PY' 2>/dev/null; then
import sys, importlib.metadata as md
spec = sys.argv[1]
import torch, numpy, pandas, yaml  # noqa: F401
if "==" in spec and md.version("torch") != spec.split("==", 1)[1]:
    sys.exit(1)
PY
    echo "benches/.venv is ready: $("$venv/bin/python" -c 'import torch; print("torch", torch.__version__)')"
    exit 0
fi
"$venv/bin/python" -m pip install --upgrade pip >/dev/null
"$venv/bin/python" -m pip install "$spec" numpy pandas pyyaml
"$venv/bin/python" -c 'import torch, numpy, pandas, yaml; print("torch", torch.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)'
