"""Incremental Server-Sent Events parser (WHATWG HTML, "event stream interpretation").

It is fed raw bytes as they come off the socket, in chunks of any size, and returns the
events completed so far. The rules it follows, because the details are where SSE
clients usually break:

- lines end in CRLF, LF or a lone CR; a CR at the end of one chunk followed by LF at the
  start of the next is one line break, not two;
- a line starting with ``:`` is a comment (keepalives); it is counted, never dispatched;
- ``field: value`` drops exactly one space after the colon; a line without a colon is a
  field with an empty value;
- ``data`` lines accumulate joined by ``\\n``; ``event`` sets the type (default
  ``message``); ``id`` sets the last event id unless it contains NUL, and it persists
  across events; ``retry`` with only ASCII digits sets the reconnection time;
- a blank line dispatches; an event with no data is not dispatched (but its ``id`` still
  counts); an unterminated event at end of stream is discarded;
- a leading UTF-8 BOM is skipped; invalid UTF-8 is replaced, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser"]


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its type, data (lines joined by ``\\n``) and last event id."""

    event: str
    data: str
    id: str | None


class SSEParser:
    """Feed bytes with :meth:`feed`; get back the events that completed."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF is part of it
        self._bom_checked = False
        self._data: list[str] = []
        self._event = ""
        self._id_buffer: str | None = None
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return the events it completed, in order."""
        out: list[SSEEvent] = []
        if not chunk:
            return out
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._buf += chunk
        if not self._bom_checked:
            if len(self._buf) < 3 and b"\xef\xbb\xbf".startswith(bytes(self._buf)):
                return out  # could still be a BOM: wait for more bytes
            if self._buf.startswith(b"\xef\xbb\xbf"):
                del self._buf[:3]
            self._bom_checked = True
        start = 0
        buf = self._buf
        n = len(buf)
        i = 0
        while i < n:
            c = buf[i]
            if c == 0x0A or c == 0x0D:
                line = bytes(buf[start:i])
                if c == 0x0D:
                    if i + 1 < n:
                        if buf[i + 1] == 0x0A:
                            i += 1
                    else:
                        self._skip_lf = True
                i += 1
                start = i
                event = self._line(line.decode("utf-8", "replace"))
                if event is not None:
                    out.append(event)
            else:
                i += 1
        del buf[:start]
        return out

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id_buffer = value
        elif name == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        if self._id_buffer is not None:
            self.last_event_id = self._id_buffer
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(self._event or "message", "\n".join(self._data), self.last_event_id)
        self._data = []
        self._event = ""
        return event
