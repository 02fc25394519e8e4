"""Timing and attributes of one handled request, recorded as plain data while the request runs.

Nothing here touches MLflow: a request only appends to these objects (cheap, no I/O), and the recorder turns
a finished RequestTrace into an MLflow trace on its own thread.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

AttrValue = str | int | float | bool | None


@dataclass
class SpanRecord:
    name: str
    span_type: str = "UNKNOWN"
    start_ns: int = field(default_factory=time.time_ns)
    end_ns: int | None = None
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    status: str = "OK"
    error: str | None = None
    children: list[SpanRecord] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        end = self.end_ns if self.end_ns is not None else time.time_ns()
        return (end - self.start_ns) / 1e6

    def set(self, **attributes: AttrValue) -> None:
        self.attributes.update(attributes)

    def finish(self, status: str = "OK", error: str | None = None) -> None:
        if self.end_ns is None:
            self.end_ns = time.time_ns()
        self.status = status
        self.error = error


@dataclass
class RequestTrace:
    """The root span of one Slack request, plus its children."""

    root: SpanRecord
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # Open spans per thread: work a request fans out to several threads (a long thread's summary chunks) nests
    # each thread's spans under the span it was started from, never under another thread's.
    _stacks: dict[int, list[SpanRecord]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def _open(self) -> list[SpanRecord]:
        return self._stacks.setdefault(threading.get_ident(), [])

    @classmethod
    def start(cls, kind: str, **attributes: AttrValue) -> RequestTrace:
        return cls(root=SpanRecord(name=f"slack.{kind}", span_type="CHAIN", attributes={"kind": kind, **attributes}))

    @contextmanager
    def span(
        self, name: str, span_type: str = "UNKNOWN", parent: SpanRecord | None = None, **attributes: AttrValue
    ) -> Iterator[SpanRecord]:
        """A child of `parent`, by default of the innermost span still open (so a tool's model calls nest in it)."""
        record = SpanRecord(name=name, span_type=span_type, attributes=dict(attributes))
        with self._lock:
            (parent or (self._open[-1] if self._open else self.root)).children.append(record)
        self._open.append(record)
        try:
            yield record
        except BaseException as exc:
            record.finish("ERROR", f"{type(exc).__name__}: {exc}"[:500])
            raise
        else:
            record.finish(record.status, record.error)
        finally:
            self._open.remove(record)

    @contextmanager
    def adopted(self, parent: SpanRecord) -> Iterator[None]:
        """In another thread: spans opened inside nest under `parent` (the span the work was handed out from)."""
        stack = self._open
        saved = list(stack)
        stack[:] = [parent]
        try:
            yield
        finally:
            stack[:] = saved

    def current(self) -> SpanRecord:
        """The innermost open span (the running tool's, inside a tool), else the root."""
        return self._open[-1] if self._open else self.root

    def finish(self, status: str = "OK", error: str | None = None) -> None:
        self.root.set(status=status.lower(), latency_ms=round(self.root.duration_ms, 2))
        self.root.finish(status, error)

    def walk(self) -> Iterator[SpanRecord]:
        stack: list[SpanRecord] = [self.root]
        while stack:
            span = stack.pop(0)
            yield span
            stack.extend(span.children)

    def summary(self) -> dict[str, Any]:
        return {"request_id": self.request_id, **self.root.attributes}
