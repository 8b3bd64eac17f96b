"""`python -m linktrack.entrypoints.cli`: the `linktrack` command (serve starts its writer so)."""

from __future__ import annotations

import sys

from linktrack.entrypoints.cli import main

sys.exit(main())
