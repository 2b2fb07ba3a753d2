"""A node stopped with SIGTERM drains first (``BX_STOP_DRAIN_S``): its health check answers
503 ``stopping`` while it still serves, and uvicorn is told to stop only when the drain is
over. A second SIGTERM, or SIGINT, stops it at once; with no drain (the default), SIGTERM
does. The whole path, with HAProxy routing around a draining replica, is
tests/e2e/test_replicas.py::test_a_rolling_restart_under_load_loses_no_request."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
import uvicorn

from gateway.cli.node import _draining_server
from gateway.runtime import stopping
from gateway.settings import Settings


@pytest.fixture(autouse=True)
def _not_stopping() -> Iterator[None]:
    stopping._STOPPING.clear()
    yield
    stopping._STOPPING.clear()  # the flag is the process's: leave it as found


def server(drain_s: float) -> uvicorn.Server:
    return _draining_server(drain_s)(uvicorn.Config("gateway.web.app:app_from_environment"))


def test_sigterm_first_announces_the_stop_then_stops_when_the_drain_is_over() -> None:
    draining = server(0.3)
    draining.handle_exit(signal.SIGTERM, None)
    assert stopping.stopping()
    assert not draining.should_exit
    time.sleep(0.1)
    assert not draining.should_exit
    time.sleep(0.5)
    assert draining.should_exit
    assert not draining.force_exit  # what is in flight finishes
    assert draining._captured_signals == [signal.SIGTERM]  # re-raised at exit: "terminated"
    draining.handle_exit(signal.SIGINT, None)  # after the drain, uvicorn's rules
    assert draining.force_exit


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_the_drain_stops_at_once(second: signal.Signals) -> None:
    draining = server(60)
    draining.handle_exit(signal.SIGTERM, None)
    assert not draining.should_exit
    draining.handle_exit(second, None)
    assert draining.should_exit
    assert not draining.force_exit  # the same graceful stop, only sooner
    assert draining._captured_signals == [signal.SIGTERM]
    time.sleep(0.05)
    assert draining._drain is None  # the drain's timer is cancelled


def test_sigint_and_a_node_without_drain_stop_at_once() -> None:
    interrupted = server(60)
    interrupted.handle_exit(signal.SIGINT, None)
    assert interrupted.should_exit
    assert not stopping.stopping()
    plain = server(0)
    plain.handle_exit(signal.SIGTERM, None)
    assert plain.should_exit
    assert not stopping.stopping()


@pytest.mark.parametrize("value", ["-1", "121", "soon"])
def test_the_drain_setting_is_bounded(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BX_NODE_ID", "vn.c02")
    monkeypatch.setenv("BX_STOP_DRAIN_S", value)
    with pytest.raises(ValueError, match="stop_drain_s"):
        Settings()

