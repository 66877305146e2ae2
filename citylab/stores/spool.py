"""The spool: every message the recorder accepts, on local disk before it is acknowledged.

The recorder appends each raw message (topic, payload, arrival time) here and
only then sends the broker its PUBACK, so a message the broker handed over
survives a crash of the recorder. A drain thread reads the spool in order,
writes to the store, and moves a committed cursor forward. When the store is
slow or down the spool simply grows on disk; memory stays flat.

Layout of the folder::

    000000000001.seg    frames appended in order; a new segment per start
    000000000002.seg    and every ``segment_bytes``
    cursor              "<segment> <offset>" of the first frame not yet stored

A frame is ``<u32 body length><u32 crc32 of body>`` then the body
``<f64 received><u16 topic length><topic><payload>``. A frame cut short by a
kill is never acknowledged, so the reader skips it. Replaying from the cursor
after a crash can write a batch twice; the stores make that harmless (a
reading is keyed by site, device, channel, name and its own time).
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from citylab.errors import StoreError

HEADER = struct.Struct("<II")
BODY_HEAD = struct.Struct("<dH")
SUFFIX = ".seg"
END = object()  # _next_frame: this segment is finished and fully read
READER_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class Spooled:
    """One raw message as the broker delivered it."""

    topic: str
    payload: bytes
    received: float


@dataclass(frozen=True, order=True)
class Position:
    """Where a frame starts: segment number and byte offset."""

    segment: int
    offset: int


def encode(topic: str, payload: bytes, received: float) -> bytes:
    """One frame, header included."""
    name = topic.encode("utf-8", "surrogateescape")[:65535]
    body = BODY_HEAD.pack(received, len(name)) + name + payload
    return HEADER.pack(len(body), zlib.crc32(body)) + body


class Spool:
    """An append-only, segmented journal of raw messages with a committed cursor.

    One thread appends (``append``), one thread reads (``read``/``commit``).
    The reader may also be another process, with its own ``Spool(folder,
    reader=True)``: it takes no lock and never appends; it learns that a
    segment is finished when a newer one appears in the folder.
    """

    def __init__(self, folder: str | Path, segment_bytes: int = 64 * 1024 * 1024, reader: bool = False) -> None:
        self.folder = Path(folder)
        self.segment_bytes = segment_bytes
        self.reader = reader
        self._new_data = threading.Event()
        self._lock = threading.Lock()
        self._written = 0
        self._read_fd: int | None = None
        self._read_segment = -1
        self._buffer, self._at = b"", 0
        if reader:
            self._fd = self._lock_fd = None
            self.cursor = self._read_cursor(self._segments())
            self._write_segment = 0
            self._buffer_start = Position(self.cursor.segment, self.cursor.offset)
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            # One recorder per spool: two writers would interleave their frames.
            self._lock_fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                raise StoreError(f"the spool folder {self.folder} is in use by another recorder: stop it, "
                                 f"or give this one another --data folder") from None
            segments = self._segments()
            self.cursor = self._read_cursor(segments)
            # Never append to a segment a killed process may have left torn:
            # start a fresh one, so a torn frame is always in a closed segment.
            self._write_segment = (segments[-1] if segments else 0) + 1
            self._fd = os.open(self._path(self._write_segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot use the spool folder {self.folder}: {exc.strerror or exc}") from exc
        self._buffer_start = Position(self.cursor.segment, self.cursor.offset)

    # --- the writing side (paho's thread) --------------------------------

    def append(self, topic: str, payload: bytes, received: float) -> None:
        """Put one message on disk (in the OS's cache: it survives a kill of this process)."""
        frame = encode(topic, payload, received)
        with self._lock:
            try:
                if self._written >= self.segment_bytes:
                    self._rotate()
                written = os.write(self._fd, frame)
                if written != len(frame):
                    # A short write is a full disk: cut it off so the frame is not half there.
                    os.ftruncate(self._fd, os.lseek(self._fd, 0, os.SEEK_END) - written)
                    raise OSError(28, "No space left on device")
            except OSError as exc:
                # Close this segment: once the drainer has stored it, commit
                # deletes it and the room it frees takes new messages. (The
                # live segment is never deleted, so without this a full disk
                # would stay full.)
                if self._written:
                    try:
                        self._rotate()
                    except OSError:
                        pass
                raise StoreError(
                    f"cannot write to the spool folder {self.folder} ({exc.strerror or exc}): "
                    f"free disk space there or point --data at a disk with room; "
                    f"the messages that do not fit wait unacknowledged until it has room"
                ) from exc
            self._written += written
        self._new_data.set()

    def _rotate(self) -> None:
        # The new segment first: if it cannot be made, the old one stays usable.
        fd = os.open(self._path(self._write_segment + 1), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.close(self._fd)
        self._fd, self._write_segment, self._written = fd, self._write_segment + 1, 0

    def sync(self) -> None:
        """Flush the segment being written to the disk itself.

        A kill of the process loses nothing even without this (the OS holds
        what was written); a power cut could lose what came since the last sync.
        """
        try:
            if self.reader:
                # Another process appends: fsync reaches the same file through our own descriptor.
                segments = self._segments()
                if not segments:
                    return
                fd = os.open(self._path(segments[-1]), os.O_RDONLY)
            else:
                with self._lock:
                    fd = os.dup(self._fd)  # so the writer need not wait for the disk
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass

    def close(self) -> None:
        """Close the files; what is spooled stays for the next start."""
        with self._lock:
            for fd in (self._fd, self._read_fd, self._lock_fd):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._read_fd = None

    # --- the reading side (the drain thread) -----------------------------

    def wait(self, timeout: float) -> None:
        """Sleep until something is appended, or ``timeout`` seconds."""
        if self.reader:
            # The writer is another process: look again soon (a few ms of latency, no signalling per message).
            time.sleep(min(timeout, READER_POLL_SECONDS))
            return
        self._new_data.wait(timeout)
        self._new_data.clear()

    def read(self, limit: int, max_bytes: int = 8 * 1024 * 1024) -> tuple[list[Spooled], Position]:
        """Up to ``limit`` messages after the last read; returns them and the position after them.

        Reading does not move the cursor: ``commit`` does, once they are stored.
        """
        out: list[Spooled] = []
        size = 0
        while len(out) < limit:
            if not self._open_reader():
                break
            frame = self._next_frame()
            if frame is END:
                self._next_segment()
                continue
            if frame is None:
                break
            out.append(frame)
            size += len(frame.payload)
            if size > max_bytes:
                break
        return out, self._buffer_start

    def _open_reader(self) -> bool:
        if self._read_fd is not None:
            return True
        segment, offset = self._buffer_start.segment, self._buffer_start.offset
        segments = [s for s in self._segments() if s >= segment]
        if not segments:
            return False
        if segments[0] != segment:
            segment, offset = segments[0], 0
        self._read_fd = os.open(self._path(segment), os.O_RDONLY)
        os.lseek(self._read_fd, offset, os.SEEK_SET)
        self._read_segment = segment
        self._buffer, self._at = b"", 0
        self._buffer_start = Position(segment, offset)
        return True

    def _closed(self) -> bool:
        """Whether the segment being read is finished: the writer never returns to an old one."""
        if not self.reader:
            return self._read_segment < self._write_segment
        return any(s > self._read_segment for s in self._segments())

    def _next_frame(self) -> Spooled | object | None:
        """The next frame; None if there is none yet, END if this segment is finished and read."""
        assert self._read_fd is not None
        buf = self._buffer
        while True:
            at = self._at
            if len(buf) - at >= HEADER.size:
                length, crc = HEADER.unpack_from(buf, at)
                end = at + HEADER.size + length
                if len(buf) >= end:
                    body = buf[at + HEADER.size:end]
                    if zlib.crc32(body) != crc:
                        return self._torn()
                    received, name_len = BODY_HEAD.unpack_from(body)
                    topic = body[BODY_HEAD.size:BODY_HEAD.size + name_len].decode("utf-8", "surrogateescape")
                    payload = body[BODY_HEAD.size + name_len:]
                    self._at = end
                    self._consumed(end - at)
                    return Spooled(topic, payload, received)
            chunk = os.read(self._read_fd, 1024 * 1024)
            if not chunk:
                if not self._closed():
                    return None
                # Closed now, but the writer's last frame may have landed
                # after our read: once more, then this segment is whole.
                chunk = os.read(self._read_fd, 1024 * 1024)
                if not chunk:
                    return self._torn() if len(buf) > at else END
            # Keep only the unread tail, so the buffer never grows with the segment.
            buf = self._buffer = buf[at:] + chunk
            self._at = 0

    def _consumed(self, size: int) -> None:
        self._buffer_start = Position(self._read_segment, self._buffer_start.offset + size)

    def _torn(self) -> object | None:
        assert self._read_fd is not None
        if self._closed():
            # Only the tail of a closed segment can be torn (a kill mid-write);
            # such a frame was never acknowledged, so skipping it loses nothing.
            return END
        else:
            # The live segment: the frame may still be arriving; read it again later.
            os.lseek(self._read_fd, self._buffer_start.offset, os.SEEK_SET)
            self._buffer, self._at = b"", 0
        return None

    def _next_segment(self) -> None:
        if self._read_fd is not None:
            os.close(self._read_fd)
        self._read_fd = None
        self._buffer, self._at = b"", 0
        self._buffer_start = Position(self._read_segment + 1, 0)

    def commit(self, position: Position) -> None:
        """Everything before ``position`` is stored: persist the cursor, delete spent segments."""
        self.cursor = position
        tmp = self.folder / "cursor.tmp"
        try:
            # Spent segments first: on a full disk that frees the room the cursor needs.
            for segment in self._segments():
                if segment < position.segment:
                    self._path(segment).unlink(missing_ok=True)
            tmp.write_text(f"{position.segment} {position.offset}\n")
            os.replace(tmp, self.folder / "cursor")
        except OSError as exc:
            # The data is in the store; a stale cursor only means a harmless replay.
            raise StoreError(f"cannot update the spool cursor in {self.folder}: {exc.strerror or exc}") from exc

    def backlog_bytes(self) -> int:
        """Bytes spooled but not yet committed to the store (the cursor as on disk: the reader may be elsewhere)."""
        total = 0
        segments = self._segments()
        cursor = self._read_cursor(segments) if (self.folder / "cursor").exists() else self.cursor
        for segment in segments:
            if segment >= cursor.segment:
                try:
                    total += self._path(segment).stat().st_size
                except OSError:
                    pass
        return max(0, total - cursor.offset)

    # --- files -------------------------------------------------------------

    def _path(self, segment: int) -> Path:
        return self.folder / f"{segment:012d}{SUFFIX}"

    def _segments(self) -> list[int]:
        # os.listdir, not Path.glob: a reader in another process asks this at every poll.
        try:
            listing = os.listdir(self.folder)
        except FileNotFoundError:
            return []
        names = (name[:-len(SUFFIX)] for name in listing if name.endswith(SUFFIX))
        return sorted(int(stem) for stem in names if stem.isdigit())

    def _read_cursor(self, segments: list[int]) -> Position:
        try:
            segment, offset = (self.folder / "cursor").read_text().split()
            return Position(int(segment), int(offset))
        except (OSError, ValueError):
            # No cursor (first start) or a damaged one: replay everything kept.
            return Position(segments[0] if segments else 1, 0)
