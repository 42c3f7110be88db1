"""``python -m seqkit.cli``: the ``seqkit`` command."""

import sys

from seqkit.cli import main

sys.exit(main())
