"""The lifetime of a native handle that several Python threads may use and close at any moment.

A handle is freed exactly once, never while a call is inside it:

- An *exclusive* call (a render, a reset) takes the handle's turn: a flag set under a small lock,
  so that a second exclusive call meanwhile is refused as busy rather than queued.
- A *shared* call (a read, an info query, a stop) is counted under the same lock, and any number
  run at once.
- ``close()`` marks the handle closed (every later call is refused with the owner's closed error),
  stops the calls in flight (``interrupt``), waits for them (bounded), then frees. If a call does
  not return within the bound, close gives up waiting and the last call out frees the handle.

Signals: Python raises a pending signal's exception (Ctrl-C's ``KeyboardInterrupt``) at the entry
of a Python function and after a call into C returns. A call that took the turn or was counted
must never lose that to a signal, or its handle would stay busy for good. So the entry methods
undo what they did if a signal is raised on their way out, and a call leaves without a method
call first: ``call_exclusive``/``call_shared`` run the call and leave in their own ``finally``,
and a hot caller that inlines the bracket leaves with ``life.busy = False`` (exclusive) or
``with life.lock: life.shared_calls -= 1`` (shared), then ``if life.closing: life.settle()``.
Statements that call nothing cannot be interrupted. The context managers ``exclusive`` and
``shared`` are for calls made by hand: their ``__exit__`` is a method, which a signal landing just
before it could skip.

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
# close() looks again this often while it waits, whether or not a call out woke it.
_CLOSE_POLL_SECONDS = 0.05


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

    __slots__ = ("handle", "lock", "busy", "shared_calls", "closing", "_interrupt", "_closed_error", "_busy_error",
                 "_cond", "_close_lock", "_settling", "_finalizer", "shared", "exclusive")

    def __init__(self, owner, handle, destroy, interrupt, closed_error, busy_error) -> None:
        self.handle = handle
        self.lock = threading.Lock()
        self.busy = False          # an exclusive call holds the turn
        self.shared_calls = 0      # shared calls inside
        self.closing = False       # close() has begun: every later call is refused
        self._interrupt = interrupt
        self._closed_error = closed_error   # () -> the AmpError a call refused after close raises
        self._busy_error = busy_error       # () -> the AmpError an overlapping exclusive call raises
        self._cond = threading.Condition(self.lock)
        self._close_lock = threading.Lock()
        self._settling = False   # close() stopped waiting: whoever finds the handle idle frees it
        self._finalizer = weakref.finalize(owner, _destroy, destroy, handle)
        self.shared = _Shared(self)
        self.exclusive = _Exclusive(self)

    @property
    def closed(self) -> bool:
        """True once close() has begun: every later call is refused."""
        return self.closing

    # exclusive calls ------------------------------------------------------------------------
    def enter_exclusive(self):
        """Takes the turn and returns the handle, or raises the busy or closed error."""
        took = False
        try:
            with self.lock:
                if self.closing:
                    raise self._closed_error()
                if self.busy:
                    raise self._busy_error()
                self.busy = took = True
        except BaseException:
            if took:  # a signal raised as the lock was let go: give the turn back
                self.busy = False
                if self.closing:
                    self.settle()
            raise
        return self.handle

    def leave_exclusive(self) -> None:
        """Gives the turn back (after enter_exclusive returned)."""
        self.busy = False
        if self.closing:
            self.settle()

    def call_exclusive(self, fn, *args):
        """``fn(handle, *args)`` holding the turn; what it returns. The turn is given back in this
        method's own ``finally``, where no signal can cut in before it."""
        handle = self.enter_exclusive()
        try:
            return fn(handle, *args)
        finally:
            self.busy = False
            if self.closing:
                self.settle()

    # shared calls ---------------------------------------------------------------------------
    def enter_shared(self):
        """Counts a call in and returns the handle, or raises the closed error."""
        counted = False
        try:
            with self.lock:
                if self.closing:
                    raise self._closed_error()
                self.shared_calls += 1
                counted = True
        except BaseException:
            if counted:  # a signal raised as the lock was let go: count the call out again
                with self.lock:
                    self.shared_calls -= 1
                if self.closing:
                    self.settle()
            raise
        return self.handle

    def leave_shared(self) -> None:
        """Counts the call out (after enter_shared returned)."""
        with self.lock:
            self.shared_calls -= 1
        if self.closing:
            self.settle()

    def call_shared(self, fn, *args):
        """``fn(handle, *args)`` counted as a shared call; what it returns. The call is counted out
        in this method's own ``finally``, where no signal can cut in before it."""
        handle = self.enter_shared()
        try:
            return fn(handle, *args)
        finally:
            with self.lock:
                self.shared_calls -= 1
            if self.closing:
                self.settle()

    # closing --------------------------------------------------------------------------------
    def _idle_locked(self) -> bool:
        return not self.busy and not self.shared_calls

    def settle(self) -> None:
        """After a call left a closing handle: wakes close(), or frees the handle if close() has
        stopped waiting and no call is left inside."""
        with self.lock:
            self._cond.notify_all()
            free = self._settling and self._idle_locked()
        if free:
            self._finalizer()  # at most once, whoever calls it

    def close(self) -> None:
        """Refuses new calls, stops those in flight, waits for them (at most CLOSE_WAIT_SECONDS),
        then frees the handle; if they are still inside by then, the last one out frees it.
        Idempotent, from any thread."""
        # Closers take turns: only the one holding _close_lock interrupts, and only before settling,
        # so the handle it interrupts cannot be freed meanwhile.
        with self._close_lock:
            with self.lock:
                if self._settling:
                    return
                # once this is set under the lock, no call enters: the handle only gets idler
                self.closing = True
                busy = not self._idle_locked()
            try:
                if busy:
                    self._interrupt(self.handle)
                deadline = time.monotonic() + CLOSE_WAIT_SECONDS
                with self.lock:
                    while not self._idle_locked():
                        left = deadline - time.monotonic()
                        if left <= 0.0:
                            break
                        self._cond.wait(min(left, _CLOSE_POLL_SECONDS))
            finally:
                with self.lock:
                    self._settling = True
                    free = self._idle_locked()
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
