"""``python -m atomgrid``: the ``atomgrid`` command without an installed entry point."""
import sys

from .cli import main

sys.exit(main())
