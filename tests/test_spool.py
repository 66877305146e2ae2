"""The spool keeps messages in order across restarts, skips torn frames and says when the disk is full."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from citylab.errors import StoreError
from citylab.stores.spool import Spool


def drain(spool: Spool, limit: int = 100_000) -> list[bytes]:
    items, position = spool.read(limit)
    spool.commit(position)
    return [i.payload for i in items]


def test_messages_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=4096)
    for i in range(2000):
        spool.append("citylab/s/d/telemetry", b"%d" % i, 1.0 + i)
    first, position = spool.read(700)
    assert [int(i.payload) for i in first] == list(range(700))
    assert first[5].topic == "citylab/s/d/telemetry" and first[5].received == 6.0
    spool.commit(position)
    assert [int(p) for p in drain(spool)] == list(range(700, 2000))
    assert len(list(tmp_path.glob("*.seg"))) <= 2  # spent segments are deleted
    assert spool.backlog_bytes() == 0


def test_a_restart_replays_from_the_cursor_only(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(100):
        spool.append("t", b"%d" % i, 0.0)
    items, _ = spool.read(40)
    spool.commit(spool.read(0)[1])  # nothing further read: commit where we are
    spool.close()  # as if killed: 40 read and committed, 60 not
    again = Spool(tmp_path)
    again.append("t", b"100", 0.0)
    assert [int(p) for p in drain(again)] == list(range(40, 101))


def test_a_frame_torn_by_a_kill_is_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(10):
        spool.append("t", b"%d" % i, 0.0)
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    with open(segment, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x01\x02")  # a header whose body never came
    again = Spool(tmp_path)
    again.append("t", b"10", 0.0)
    assert [int(p) for p in drain(again)] == list(range(11))


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("the full-disk test mounts a 256 KiB tmpfs and needs root (./run-tests runs as root here)",
                    pytrace=False)
    folder = tmp_path / "tiny"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True)
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_is_a_sentence_and_what_fits_is_kept(tiny_disk: Path) -> None:
    ballast = tiny_disk / "ballast"
    ballast.write_bytes(b"\0" * 128 * 1024)  # something else filling the disk
    spool = Spool(tiny_disk / "spool")
    kept = 0
    with pytest.raises(StoreError) as caught:
        for i in range(100_000):
            spool.append("citylab/s/d/telemetry", b"x" * 1000, float(i))
            kept += 1
    assert "free disk space" in str(caught.value) and str(tiny_disk) in str(caught.value)
    assert kept > 50
    items, position = spool.read(100_000)
    assert len(items) == kept  # every frame before the failure is whole and readable
    ballast.unlink()  # the technician frees space
    spool.commit(position)
    spool.append("t", b"again", 0.0)
    assert drain(spool) == [b"again"]
    spool.close()


def test_a_second_recorder_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    with pytest.raises(StoreError, match="in use by another recorder"):
        Spool(tmp_path)
    first.close()
    Spool(tmp_path).close()  # free again once the first is closed
