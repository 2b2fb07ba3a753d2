"""Files written atomically: a reader sees the old file or the new one, and two writers of
the same file in one process (two requests finishing a key's activation at once, say) do not
trip over each other's temporary file."""

from __future__ import annotations

import threading
from pathlib import Path

from gateway.trust.files import write_atomically


def test_two_writers_in_one_process_both_succeed(tmp_path: Path) -> None:
    target = tmp_path / "keyring.json"
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def write(n: int) -> None:
        start.wait()
        for i in range(60):
            try:
                write_atomically(target, f"{n} {i}\n".encode(), 0o644)
            except BaseException as exc:  # noqa: BLE001 -- collected for the assertion
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_text().endswith(" 59\n")  # one whole write, the last of one writer
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]  # no temporary left
    assert target.stat().st_mode & 0o777 == 0o644
