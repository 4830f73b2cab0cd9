"""``python -m weaseldb``: the same CLI as the ``weaseldb`` console script."""

import sys

from .cli import main

sys.exit(main())
