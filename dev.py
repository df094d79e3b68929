#!/usr/bin/env python3
"""Bootstrap with nothing but Python: make .venv, install Kỷ Cương into it, then run.

python3 dev.py run    # the quickstart: SQLite + in-process broker + simulated office day
python3 dev.py test   # ruff, mypy and the whole test suite
python3 dev.py bench  # the benchmarks (need PostgreSQL and Mosquitto)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".installed"


def ensure_env() -> None:
    """Create the virtualenv and (re)install when pyproject.toml changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit("Kỷ Cương needs Python 3.11 or newer")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if PY.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return
    if not PY.exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing dependencies into .venv ...", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
    STAMP.write_text(digest)


def run(*cmd: str) -> int:
    return subprocess.run(cmd, cwd=ROOT).returncode


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "run"
    rest = sys.argv[2:]
    ensure_env()
    if what == "run":
        return run(str(BIN / "kycuong"), "quickstart", *rest)
    if what == "test":
        for step in (
            [str(PY), "-m", "ruff", "check", "."],
            [str(PY), "-m", "ruff", "format", "--check", "."],
            [str(PY), "-m", "mypy", "."],
        ):
            print("$", " ".join(step[2:]), flush=True)
            if code := run(*step):
                return code
        # The suite waits on brokers, servers and browsers as much as it computes: three
        # workers (each with its own PostgreSQL database) halve its time on two cores.
        # `python3 dev.py test -n 0 …` runs it in one process.
        workers = (
            []
            if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in rest)
            else ["-n", os.environ.get("KC_TEST_WORKERS", "3")]
        )
        return run(str(PY), "-m", "pytest", *workers, *rest)
    if what == "bench":
        return run(str(PY), "-m", "bench", *rest)
    if what == "kycuong":
        return run(str(BIN / "kycuong"), *rest)
    sys.exit(f"unknown command {what!r}: use run, test, bench or kycuong")


if __name__ == "__main__":
    sys.exit(main())
