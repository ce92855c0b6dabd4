#!/usr/bin/env bash
# What bench/gpu_suite.py needs on the GPU machine that it cannot fetch there (docs/gpu.md), made here, in
# two folders git ignores that the device call carries:
#   .whl/           wheels of the Python packages the machine lacks (optuna for the sweep test, and what it
#                   needs; platformdirs), for its Python 3.12
#   .gpu-pictures/  the Dungeon Crawl picture set (tools/make_crawl_pictures.py from Debian's crawl-tiles-data)
# Run from the repository root with the project's environment: bench/gpu_prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
    optuna==5.1.0 alembic==1.20.1 colorlog==6.12.0 SQLAlchemy==2.1.9 Mako==1.4.3 platformdirs==4.14.9
if [ ! -d .gpu-pictures ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download crawl-tiles-data)
    dpkg -x "$work"/crawl-tiles-data_*.deb "$work/root"
    version="$(dpkg-deb -f "$work"/crawl-tiles-data_*.deb Version)"
    python tools/make_crawl_pictures.py .gpu-pictures --tiles "$work/root/usr/share/crawl/dat/tiles" \
        --package-version "$version"
fi
du -sh .whl .gpu-pictures
