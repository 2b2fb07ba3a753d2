"""Screenshots of the console kept in ``docs/screenshots/``: taken by the browser tests into
their own folder always, copied into the documentation only by ``make screenshots``
(``BX_SCREENSHOTS=1``), so that a test run leaves the working tree as it found it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import REPO

SCREENSHOTS = REPO / "docs" / "screenshots"


def keep(shot: Path, name: str) -> None:
    """Keep ``shot`` as ``docs/screenshots/<name>`` when the screenshots are being made."""
    assert shot.stat().st_size > 0, shot
    if os.environ.get("BX_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / name)
