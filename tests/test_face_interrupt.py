"""Ctrl-C during a long render: the interrupt arrives soon, and the stream stands where the last
delivered frame ended, so that rendering on continues it bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import amp
    from amp.native_runtime import NativeGraphExecutor

    def heavy():
        g = amp.AudioGraph(48000)
        g.add_node("src", "noise", seed=7)
        prev = "src"
        for k in range(60):
            name = f"f{k}"
            g.add_node(name, "biquad", freq=200.0 + 30 * k, q=0.9)
            g.connect(prev, name)
            prev = name
        return g

    def executor():
        return NativeGraphExecutor(heavy(), threads=1, max_block_frames=4096)

    # Frames for about eight seconds of rendering on this machine (and this build).
    with executor() as probe:
        started = time.monotonic()
        probe.render(4096 * 8)
        per_frame = (time.monotonic() - started) / (4096 * 8)
    total = int(8.0 / per_frame) // 4096 * 4096 + 1000
    more = max(int(0.3 / per_frame), 5000)

    ex = executor()
    print("ready", flush=True)
    try:
        ex.render(total)
        result = {"interrupted": False}
    except KeyboardInterrupt as exc:
        caught = time.monotonic()
        done = getattr(exc, "frames_rendered", None)
        audio = getattr(exc, "audio", None)
        result = {"interrupted": True, "caught": caught, "done": done, "position": ex.frame_position,
                  "total": total}
        if done is not None:
            rest = ex.render(more)
            ours = np.concatenate([audio, rest], axis=2)
            with executor() as fresh:
                reference = fresh.render(done + more)
            result["audio_frames"] = audio.shape[2]
            result["bit_exact"] = bool(np.array_equal(ours, reference))
            result["position_after"] = ex.frame_position
            result["expected_after"] = done + more
    print(json.dumps(result), flush=True)
    """
)


def test_ctrl_c_during_an_eight_second_render():
    env = dict(os.environ)
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(1.5)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["interrupted"], result
    # The interrupt arrived while the render still had most of its work ahead of it (a native
    # render returns to Python every few tens of milliseconds).
    delay = result["caught"] - sent
    assert delay < 2.0, f"KeyboardInterrupt came {delay:.2f} s after SIGINT"
    done = result["done"]
    assert done is not None and 0 < done < result["total"]
    assert done % 4096 == 0
    # The stream stands after the last delivered frame, and the interrupt delivered those frames.
    assert result["position"] == done and result["audio_frames"] == done
    assert result["bit_exact"]
    assert result["position_after"] == result["expected_after"]


def test_render_block_after_an_interrupt_continues_from_the_frames_delivered():
    # The same through AudioGraph: its stream position advances by the frames rendered, so the
    # control timeline stays on the native one.
    code = textwrap.dedent(
        """
        import json, signal, threading, time, os
        import numpy as np
        import amp

        g = amp.AudioGraph(48000)
        g.add_node("src", "noise", seed=3)
        prev = "src"
        for k in range(60):
            g.add_node(f"f{k}", "biquad", freq=300.0 + 20 * k)
            g.connect(prev, f"f{k}")
            prev = f"f{k}"
        g.render_block(4096)
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            g.render_block(48000 * 3000)
            print(json.dumps({"interrupted": False}))
        except KeyboardInterrupt as exc:
            print(json.dumps({"interrupted": True, "graph": g.frame_position,
                              "native": g.executor.frame_position, "done": exc.frames_rendered}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["interrupted"]
    assert data["graph"] == data["native"] == 4096 + data["done"]

