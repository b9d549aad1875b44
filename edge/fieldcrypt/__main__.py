"""`python -m edge.fieldcrypt list|rotate|retire <keys dir> [kid]`: manage edge keys."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edge.fieldcrypt.keys import KeyRing, create_key, retire_key


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or args[0] not in {"list", "rotate", "retire"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, directory = args[0], Path(args[1])
    if command == "rotate":
        print(create_key(directory))
    elif command == "retire":
        if len(args) != 3:
            print("retire needs a key id", file=sys.stderr)
            return 2
        retire_key(directory, args[2])
    print(json.dumps(KeyRing(directory).describe(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
