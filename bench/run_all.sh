#!/bin/sh
# Run every benchmark in turn; each appends its figures to docs/benchmarks.md.
# PYTHON defaults to the project's venv when there is one, else python3.
set -e
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
echo "load before: $(cat /proc/loadavg 2>/dev/null || uptime)"
"$PYTHON" bench/startup.py
"$PYTHON" bench/plot_scale.py
"$PYTHON" bench/responsiveness.py
"$PYTHON" bench/studio_vs_headless.py
"$PYTHON" bench/engine_vs_tutorial.py
"$PYTHON" bench/preset_quality.py
echo "load after: $(cat /proc/loadavg 2>/dev/null || uptime)"
