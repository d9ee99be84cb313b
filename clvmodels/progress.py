"""Progress of a command-line job on stderr: one line per stage ("reading
transactions… 1.2 s") and a bar where the work is long (scoring chunks).

The rule, in one place: progress shows when stderr is a terminal; ``--quiet`` turns it
off, ``--progress`` turns it on where nobody watches (a job's log). In a log the bar
becomes a plain line at most every :data:`LOG_EVERY` seconds, and no terminal control
characters are written. Standard output is never touched: it carries the results.

Standard library only (tqdm is imported for a bar on a terminal): the command line
builds its :class:`Progress` before it imports anything heavy.

>>> import io
>>> log = io.StringIO()
>>> progress = Progress(log, enabled=True, terminal=False)
>>> with progress.stage("summarising transactions") as stage:
...     stage.detail = "2,357 customers"
>>> log.getvalue()  # doctest: +ELLIPSIS
'summarising transactions… 2,357 customers, 0.0 s\\n'
>>> quiet = io.StringIO()
>>> with Progress(quiet, enabled=False).stage("fitting"):
...     pass
>>> quiet.getvalue()
''
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

__all__ = ["LOG_EVERY", "Progress", "Stage", "format_seconds"]

#: seconds between two progress lines of a bar in a log (not a terminal)
LOG_EVERY = 10.0


def format_seconds(seconds: float) -> str:
    """A duration as a person reads it.

    >>> format_seconds(1.234), format_seconds(75.4), format_seconds(3725)
    ('1.2 s', '1 min 15 s', '62 min 5 s')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s"


class Stage:
    """One stage of a job (:meth:`Progress.stage`, :meth:`Progress.begin`); set
    :attr:`detail` (e.g. "2,357 customers") to have it shown on the stage's line when
    it ends."""

    def __init__(self, progress: Progress, text: str):
        self.progress = progress
        self.text = text
        self.detail: str | None = None
        self.started = time.perf_counter()
        self.ended = False

    def end(self, *, failed: bool = False) -> None:
        """Write the stage's line whole: with its time, or, when ``failed``, without (the
        error that follows says what went wrong). Only the first call counts."""
        if not self.ended:
            self.ended = True
            self.progress._end(self, self.line(done=not failed))

    def line(self, *, done: bool) -> str:
        head = f"{self.text}…"
        if not done:
            return head
        elapsed = format_seconds(time.perf_counter() - self.started)
        return f"{head} {self.detail}, {elapsed}" if self.detail else f"{head} {elapsed}"


class Progress:
    """Stage lines and bars on ``stream`` (default stderr), or nothing.

    Parameters
    ----------
    stream : text stream, optional
        Where progress goes (default ``sys.stderr``).
    enabled : bool, optional
        Show progress at all (default: when ``stream`` is a terminal).
    terminal : bool, optional
        ``stream`` is a terminal: lines are rewritten in place and a tqdm bar is drawn
        (default: ``stream.isatty()``).
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None,
                 terminal: bool | None = None):
        self.stream = sys.stderr if stream is None else stream
        if terminal is None:
            isatty = getattr(self.stream, "isatty", None)
            terminal = bool(isatty and isatty())
        self.terminal = terminal
        self.enabled = terminal if enabled is None else bool(enabled)
        self._open: Stage | None = None  # a stage whose line awaits its end
        self._lock = threading.Lock()

    @classmethod
    def for_flags(cls, *, quiet: bool = False, force: bool = False,
                  stream: TextIO | None = None) -> Progress:
        """The command line's rule: ``--quiet`` (quiet) turns progress off, ``--progress``
        (force) on; by default it shows on a terminal only.

        >>> import io
        >>> Progress.for_flags(stream=io.StringIO()).enabled
        False
        >>> Progress.for_flags(force=True, stream=io.StringIO()).enabled
        True
        """
        progress = cls(stream)
        if quiet:
            progress.enabled = False
        elif force:
            progress.enabled = True
        return progress

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def interrupt(self) -> None:
        """End an open stage line, so that other output (a warning) starts on a line of
        its own; the stage's line is written again, whole, when it ends."""
        with self._lock:
            if self._open is not None and self.enabled:
                self._write("\n")
            self._open = None

    @contextlib.contextmanager
    def stage(self, text: str) -> Iterator[Stage]:
        """Show ``text…`` while the block runs, then the time it took (and
        :attr:`Stage.detail`). A block that raises leaves ``text…`` on its own line, so
        the error that follows says where the job stopped."""
        stage = self.begin(text)
        try:
            yield stage
        except BaseException:
            stage.end(failed=True)
            raise
        stage.end()

    def begin(self, text: str) -> Stage:
        """Start a stage that :meth:`Stage.end` ends (:meth:`stage` where a ``with``
        block fits)."""
        stage = Stage(self, text)
        if self.enabled:
            with self._lock:
                if self._open is not None:  # a stage inside a stage: close the outer line
                    self._write("\n")
                self._write(stage.line(done=False))
                self._open = stage
        return stage

    def _end(self, stage: Stage, line: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.terminal:  # rewrite the line whole: a bar may have drawn over it
                self._write(f"\r{line}\x1b[K\n")
            elif self._open is stage:
                self._write(line[len(stage.line(done=False)):] + "\n")
            else:
                self._write(line + "\n")
            self._open = None

    def bar(self, total: int, desc: str, unit: str = "customers"):
        """A bar for ``total`` units of work, with ``update(n)`` and ``close()``, or
        None when progress is off: tqdm on a terminal, a line at most every
        :data:`LOG_EVERY` seconds in a log."""
        if not self.enabled:
            return None
        if self.terminal:
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                return None
            return tqdm(total=total, desc=desc, unit=unit, file=self.stream, leave=False,
                        dynamic_ncols=True)
        return _LogBar(self, total, desc, unit)


class _LogBar:
    """A bar for a log: ``desc: 40% (1,000 of 2,500 customers), 3.2 s`` now and then."""

    def __init__(self, progress: Progress, total: int, desc: str, unit: str):
        self.progress, self.total, self.desc, self.unit = progress, total, desc, unit
        self.done = 0
        self.started = self.last = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= LOG_EVERY and self.done < self.total:
            self.last = now
            self.progress.interrupt()
            share = self.done / self.total if self.total else 1.0
            self.progress._write(f"  {self.desc}: {share:.0%} ({self.done:,} of {self.total:,} "
                                 f"{self.unit}), {format_seconds(now - self.started)}\n")

    def close(self) -> None:
        pass
