"""The lifetime of a native handle that several Python threads may use and close at any moment.

A handle is freed exactly once, never while a call is inside it:

- An *exclusive* call (a render, a reset) takes the handle's turn, a lock tried without waiting:
  a second exclusive call meanwhile is refused as busy rather than queued. The turn is the whole
  bookkeeping of the hot path: one non-blocking acquire and one release, no counter.
- A *shared* call (a read, an info query, a stop) is counted under a small lock, and any number run
  at once.
- ``close()`` marks the handle closed (every later call is refused with the owner's closed error),
  stops the calls in flight (``interrupt``), waits for them (bounded), then frees. It keeps the turn
  for ever once it has it, so a refused exclusive caller cannot slip in afterwards. If a call does
  not return within the bound, close gives up waiting and the last call out frees the handle.

The handle is freed by a ``weakref.finalize`` on the owner, which runs at most once: from
``close()``, from the last call out after close gave up waiting, or when the owner is collected
(no call can be in flight then, since a call holds its owner). The finalizer calls only the destroy
function it was given, bound when the library loaded, so a garbage collection that runs it never
calls into cffi in a way that takes cffi's lock.
"""

from __future__ import annotations

import threading
import time
import weakref

__all__ = ["HandleLifetime", "CLOSE_WAIT_SECONDS"]

# How long close() waits for calls on other threads to return once it has stopped them.
CLOSE_WAIT_SECONDS = 30.0


def _destroy(destroy, handle) -> None:
    # Runs from close() or as a finalizer, possibly inside a garbage collection: it calls only a
    # function bound at load, with a pointer it was given.
    destroy(handle)


class HandleLifetime:
    """A native handle, the calls inside it, and its one release.

    ``enter_exclusive``/``leave_exclusive`` and ``enter_shared``/``leave_shared`` bracket each use
    of ``handle`` (``exclusive`` and ``shared`` are the same brackets as context managers);
    ``close()`` refuses new calls, stops and waits for those in flight, then frees the handle.
    """

    __slots__ = ("handle", "_interrupt", "_closed_error", "_busy_error", "_turn", "_lock", "_cond",
                 "_close_lock", "_shared", "_closing", "_settling", "_turn_kept", "_finalizer",
                 "shared", "exclusive", "__weakref__")

    def __init__(self, owner, handle, destroy, interrupt, closed_error, busy_error) -> None:
        self.handle = handle
        self._interrupt = interrupt
        self._closed_error = closed_error   # () -> the AmpError a call refused after close raises
        self._busy_error = busy_error       # () -> the AmpError an overlapping exclusive call raises
        self._turn = threading.Lock()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._close_lock = threading.Lock()
        self._shared = 0
        self._closing = False
        self._settling = False   # close() stopped waiting: whoever finds the handle idle frees it
        self._turn_kept = False  # the turn is held for ever by whoever took it to free the handle
        self._finalizer = weakref.finalize(owner, _destroy, destroy, handle)
        self.shared = _Shared(self)
        self.exclusive = _Exclusive(self)

    @property
    def closed(self) -> bool:
        """True once close() has begun: every later call is refused."""
        return self._closing

    # exclusive calls ------------------------------------------------------------------------
    def enter_exclusive(self):
        """Takes the turn and returns the handle, or raises the busy or closed error."""
        if not self._turn.acquire(False):
            raise self._closed_error() if self._closing else self._busy_error()
        if self._closing:
            self._turn.release()
            self._settle()  # this release may be what leaves the handle idle for a close that gave up
            raise self._closed_error()
        return self.handle

    def leave_exclusive(self) -> None:
        """Gives the turn back (after enter_exclusive returned)."""
        self._turn.release()
        if self._closing:
            self._settle()

    # shared calls ---------------------------------------------------------------------------
    def enter_shared(self):
        """Counts a call in and returns the handle, or raises the closed error."""
        with self._lock:
            if self._closing:
                raise self._closed_error()
            self._shared += 1
        return self.handle

    def leave_shared(self) -> None:
        """Counts the call out (after enter_shared returned)."""
        with self._lock:
            self._shared -= 1
            if not self._closing:
                return
            self._cond.notify_all()
            free = self._settling and self._claim_locked()
        if free:
            self._finalizer()

    # closing --------------------------------------------------------------------------------
    def _claim_locked(self) -> bool:
        # Under _lock, once settling: True (once) if the handle is idle and this thread is to free it.
        if self._shared or not self._finalizer.alive:
            return False
        if not self._turn_kept:
            if not self._turn.acquire(False):
                return False  # an exclusive call is still inside (or being refused): it settles on leaving
            self._turn_kept = True
        return True

    def _settle(self) -> None:
        with self._lock:
            self._cond.notify_all()
            free = self._settling and self._claim_locked()
        if free:
            self._finalizer()

    def close(self) -> None:
        """Refuses new calls, stops those in flight, waits for them (at most CLOSE_WAIT_SECONDS),
        then frees the handle; if they are still inside by then, the last one out frees it.
        Idempotent, from any thread."""
        # Closers take turns: only the one holding _close_lock interrupts, and only before settling,
        # so the handle it interrupts cannot be freed meanwhile.
        with self._close_lock:
            with self._lock:
                if self._settling:
                    return
                self._closing = True
                busy = self._turn.locked() or self._shared > 0
            try:
                if busy:
                    self._interrupt(self.handle)
                deadline = time.monotonic() + CLOSE_WAIT_SECONDS
                if not self._turn_kept:
                    self._turn_kept = self._turn.acquire(timeout=CLOSE_WAIT_SECONDS)
                with self._lock:
                    self._cond.wait_for(lambda: self._shared == 0, max(deadline - time.monotonic(), 0.0))
            finally:
                with self._lock:
                    self._settling = True
                    free = self._claim_locked()
        if free:
            self._finalizer()


class _Exclusive:
    __slots__ = ("_life",)

    def __init__(self, life: HandleLifetime) -> None:
        self._life = life

    def __enter__(self):
        return self._life.enter_exclusive()

    def __exit__(self, exc_type, exc, tb) -> None:
        self._life.leave_exclusive()


class _Shared:
    __slots__ = ("_life",)

    def __init__(self, life: HandleLifetime) -> None:
        self._life = life

    def __enter__(self):
        return self._life.enter_shared()

    def __exit__(self, exc_type, exc, tb) -> None:
        self._life.leave_shared()
