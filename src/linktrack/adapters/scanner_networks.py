"""The published scanner networks the writer judges clicks by: a file an operator keeps.

`load(None)` reads the list shipped with linktrack (`linktrack/data/scanner_networks.txt`,
with each range's source and the date it was checked); `load(path)` reads an operator's
own copy, named by `LINKTRACK_SCANNER_NETWORKS`, so the list changes without a release.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from linktrack.core.bots import ScannerNetworks

SHIPPED = "scanner_networks.txt"


def load(path: str | Path | None = None) -> ScannerNetworks:
    """The networks in `path` (None: the shipped list); OSError or ValueError saying which
    file and line when it cannot be read."""
    if path is None:
        shipped = resources.files("linktrack").joinpath("data", SHIPPED)
        text = shipped.read_text(encoding="utf-8")
        return ScannerNetworks.parse(text, f"linktrack/data/{SHIPPED}")
    return ScannerNetworks.parse(Path(path).read_text(encoding="utf-8"), str(path))
