"""python -m bench NAME [options]: run one benchmark and print its figures."""

from __future__ import annotations

import sys


def main() -> int:
    names = {
        "ingest": "bench.ingest",
        "rules": "bench.rules",
        "api": "bench.api",
        "documents": "bench.documents",
        "flood": "bench.flood",
        "hostile": "bench.hostile",
        "roster": "bench.roster",
        "notify": "bench.notify",
        "national": "bench.national",
    }
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        print(f"usage: python -m bench {{{','.join(names)}}} [options]", file=sys.stderr)
        return 2
    import importlib

    module = importlib.import_module(names[sys.argv[1]])
    return int(module.main(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
