"""`python -m fashion_transfer.bench`: see cli.py."""

import sys

from fashion_transfer.bench.cli import main

sys.exit(main())
