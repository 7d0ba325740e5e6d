"""``python -m dataset``: print the rule tables that every dataset file is read by (quoted in docs/real-files.md)."""

import sys

from .loading import SCHEMAS
from .rules import describe


def main() -> int:
    from storage.stopping import run_until_stopped

    return run_until_stopped(lambda: print(describe(SCHEMAS.values())) or 0, "nothing was written")


if __name__ == "__main__":
    sys.exit(main())
