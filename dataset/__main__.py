"""``python -m dataset``: print the rule tables that every dataset file is read by (quoted in docs/real-files.md)."""

import sys

from .loading import SCHEMAS
from .rules import describe


def main() -> int:
    print(describe(SCHEMAS.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
