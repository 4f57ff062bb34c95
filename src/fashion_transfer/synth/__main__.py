"""`python -m fashion_transfer.synth`: see cli.py."""

import sys

from fashion_transfer.synth.cli import main

sys.exit(main())
