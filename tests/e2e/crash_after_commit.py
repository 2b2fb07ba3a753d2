"""Runs ``gateway serve`` that dies by SIGKILL right after it commits its first accepted
message, before it answers: the worst moment for a receiver to crash (PROTOCOL.md §4.5).

The marker file (first argument) makes only the first such process die.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.web import partner_api

marker = Path(sys.argv[1])
original = partner_api.accept_message


async def accept_then_die(*args: Any, **kwargs: Any) -> Any:
    acceptance = await original(*args, **kwargs)  # committed
    if not marker.exists():
        marker.write_text("crashed after commit\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return acceptance


partner_api.accept_message = accept_then_die  # type: ignore[assignment]
sys.argv = ["gateway", "serve"]

from gateway.cli import main  # noqa: E402

main()
