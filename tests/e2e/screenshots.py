"""Screenshots of the console kept in ``docs/screenshots/``: taken by the browser tests into
their own folder and copied into the documentation only by ``make screenshots``
(``BX_SCREENSHOTS=1``), so that a test run leaves the working tree as it found it. An ordinary
run takes none: a full-page screenshot costs the shared CI cores up to a second each, and
what the tests assert is read from the page, never from a picture."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import REPO

SCREENSHOTS = REPO / "docs" / "screenshots"
#: Whether this run makes the screenshots (``make screenshots``).
MAKING = os.environ.get("BX_SCREENSHOTS") == "1"


def keep(shot: Path, name: str) -> None:
    """Keep ``shot`` as ``docs/screenshots/<name>`` when the screenshots are being made."""
    if MAKING:
        assert shot.stat().st_size > 0, shot
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / name)
