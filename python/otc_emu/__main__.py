"""``python -m otc_emu``: the same CLI as the ``otc-emu`` command."""

import sys

from .cli import main

sys.exit(main())
