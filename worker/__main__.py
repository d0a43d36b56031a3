"""``python -m worker dev|start``: see worker/main.py."""

import sys

from worker.main import main

if __name__ == "__main__":
    sys.exit(main())
