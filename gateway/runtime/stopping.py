"""Whether this process is on its way out: between the ``SIGTERM`` that asks it to stop and
the moment it stops serving, a node waits ``BX_STOP_DRAIN_S`` seconds while ``/bx/v1/health``
answers 503 ``stopping`` (docs/operations.md, "Running a node as replicas"). A load balancer
that checks the health then routes around it before it closes its connections: no request
sent on a kept-alive connection meets a replica that is closing it.

The one state of a process that is not the node's: the signal that sets it is the process's.
"""

from __future__ import annotations

import threading

_STOPPING = threading.Event()


def begin() -> None:
    """From now on, this process announces that it stops."""
    _STOPPING.set()


def stopping() -> bool:
    """Whether this process announces that it stops."""
    return _STOPPING.is_set()
