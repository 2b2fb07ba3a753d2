"""Runs ``gateway serve`` that dies by SIGKILL inside the transaction that attaches its first
accepted message to a case: after the receipt's commit and after the case work, before that
work commits. The marker file (first argument) makes only the first such process die.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.cases import effects

marker = Path(sys.argv[1])
original = effects.attach_inbound


async def attach_then_die(*args: Any, **kwargs: Any) -> Any:
    await original(*args, **kwargs)  # the case work is written, not committed
    if not marker.exists():
        marker.write_text("crashed while attaching\n")
        os.kill(os.getpid(), signal.SIGKILL)


effects.attach_inbound = attach_then_die  # type: ignore[assignment]
sys.argv = ["gateway", "serve"]

from gateway.cli import main  # noqa: E402

main()
