"""The handle-lifetime guard on its own, with a Python stand-in for the native handle.

The stand-in records when it is destroyed and whether a call was inside it then, so the rules
are checked directly: freed exactly once, never under a call; calls after close refused with the
owner's error; overlapping exclusive calls refused as busy; close bounded.
"""

from __future__ import annotations

import gc
import threading
import time

import pytest

from amp import native_lifetime
from amp.errors import GraphError
from amp.native_lifetime import HandleLifetime


class Owner:
    pass


class FakeHandle:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.destroyed = 0
        self.destroyed_while_inside = 0
        self.interrupts = 0
        self.stop = threading.Event()

    def destroy(self, handle) -> None:
        assert handle is self
        with self.lock:
            self.destroyed += 1
            if self.inside:
                self.destroyed_while_inside += 1

    def interrupt(self, handle) -> None:
        assert handle is self
        assert not self.destroyed
        self.interrupts += 1
        self.stop.set()

    def work(self, seconds: float) -> None:
        """A native call: inside until told to stop or `seconds` pass."""
        assert not self.destroyed, "a call entered a freed handle"
        with self.lock:
            self.inside += 1
        self.stop.wait(seconds)
        with self.lock:
            self.inside -= 1


class Closed(GraphError):
    pass


class Busy(GraphError):
    pass


def guarded():
    owner, fake = Owner(), FakeHandle()
    life = HandleLifetime(owner, fake, fake.destroy, fake.interrupt, lambda: Closed("closed"), lambda: Busy("busy"))
    return owner, fake, life


def in_thread(target) -> tuple[threading.Thread, list]:
    errors: list[BaseException] = []

    def run():
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def enter_and_work(life, fake, exclusive: bool, entered: threading.Event, seconds: float = 10.0):
    def call():
        bracket = life.exclusive if exclusive else life.shared
        with bracket as handle:
            entered.set()
            handle.work(seconds)
    return call


@pytest.mark.parametrize("exclusive", [True, False])
def test_close_stops_and_waits_for_the_call_inside_then_frees_once(exclusive):
    owner, fake, life = guarded()
    entered = threading.Event()
    worker, errors = in_thread(enter_and_work(life, fake, exclusive, entered))
    assert entered.wait(5)
    life.close()
    worker.join(5)
    assert not worker.is_alive() and not errors
    assert fake.interrupts == 1
    assert fake.destroyed == 1 and fake.destroyed_while_inside == 0
    life.close()
    del owner
    gc.collect()
    assert fake.destroyed == 1


def test_calls_after_close_are_refused_with_the_owners_error():
    owner, fake, life = guarded()
    life.close()
    assert life.closed and fake.destroyed == 1 and fake.interrupts == 0
    for bracket in (life.exclusive, life.shared):
        with pytest.raises(Closed):
            with bracket:
                pass
    assert fake.destroyed == 1


def test_an_exclusive_call_overlapping_another_is_busy_and_shared_calls_are_not():
    owner, fake, life = guarded()
    entered = threading.Event()
    worker, errors = in_thread(enter_and_work(life, fake, True, entered))
    assert entered.wait(5)
    with pytest.raises(Busy):
        with life.exclusive:
            pass
    with life.shared as handle:  # queries run beside a render
        assert handle is fake
    fake.stop.set()
    worker.join(5)
    with life.exclusive:  # the turn came back
        pass
    assert not errors and fake.destroyed == 0


def test_a_close_that_gives_up_waiting_leaves_the_freeing_to_the_last_call_out(monkeypatch):
    monkeypatch.setattr(native_lifetime, "CLOSE_WAIT_SECONDS", 0.05)
    owner, fake, life = guarded()
    fake.interrupt = lambda handle: None  # a call that does not stop when told
    life._interrupt = fake.interrupt
    entered = [threading.Event(), threading.Event()]
    calls = [in_thread(enter_and_work(life, fake, True, entered[0], 0.5)),
             in_thread(enter_and_work(life, fake, False, entered[1], 0.8))]
    assert all(e.wait(5) for e in entered)
    started = time.monotonic()
    life.close()
    assert time.monotonic() - started < 0.45  # bounded, not until the calls return
    assert fake.destroyed == 0  # two calls still inside
    calls[0][0].join(5)
    assert fake.destroyed == 0  # one call still inside
    calls[1][0].join(5)
    assert fake.destroyed == 1 and fake.destroyed_while_inside == 0
    assert not calls[0][1] and not calls[1][1]
    with pytest.raises(Closed):
        with life.exclusive:
            pass


def test_many_threads_calling_and_closing_free_once_and_never_under_a_call():
    for trial in range(30):
        owner, fake, life = guarded()
        outcomes: list[str] = []

        def caller(exclusive: bool):
            def call():
                for _ in range(50):
                    try:
                        with (life.exclusive if exclusive else life.shared) as handle:
                            handle.work(0.0005)
                    except Closed:
                        outcomes.append("closed")
                        return
                    except Busy:
                        outcomes.append("busy")
            return call

        workers = [in_thread(caller(i % 2 == 0)) for i in range(4)]
        time.sleep(0.002 * (trial % 5))
        closers = [in_thread(life.close) for _ in range(2)]
        for thread, errors in workers + closers:
            thread.join(10)
            assert not thread.is_alive() and not errors, errors
        assert fake.destroyed == 1 and fake.destroyed_while_inside == 0, trial


def test_dropping_the_owner_frees_the_handle_without_the_guard():
    owner, fake, life = guarded()
    with life.exclusive:
        pass
    del owner
    gc.collect()
    assert fake.destroyed == 1
    assert not life._finalizer.alive


def test_call_brackets_hand_back_what_they_took_whatever_the_call_raises():
    owner, fake, life = guarded()
    assert life.call_exclusive(lambda handle, x: (handle, x), 5) == (fake, 5)
    assert life.call_shared(lambda handle: handle) is fake

    def fails(handle):
        raise KeyboardInterrupt

    for bracket in (life.call_exclusive, life.call_shared):
        with pytest.raises(KeyboardInterrupt):
            bracket(fails)
    assert not life.busy and life.shared_calls == 0

    def overlapping(handle):
        with pytest.raises(Busy):
            life.call_exclusive(lambda h: None)
        return life.call_shared(lambda h: "shared beside exclusive")

    assert life.call_exclusive(overlapping) == "shared beside exclusive"
    life.close()
    assert fake.destroyed == 1
    with pytest.raises(Closed):
        life.call_shared(lambda h: None)
