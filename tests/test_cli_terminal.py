"""Long renders as a user sees them: a progress bar on a terminal (a pseudo-terminal here) and
none in a pipe, memory flat while a ten-minute render streams to disk, and Ctrl-C leaving nothing."""

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import soundfile

SCRIPT = Path(sys.executable).parent / "amp"
AMP = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "amp"]


def run_on_a_terminal(args, cwd):
    """Runs amp with stderr on a pseudo-terminal; returns (exit status, what the terminal showed,
    stdout, seconds taken)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a terminal of 80 columns
    start = time.monotonic()
    process = subprocess.Popen([*AMP, *map(str, args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=slave, cwd=cwd)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        shown += data
    os.close(master)
    stdout = process.stdout.read().decode()
    process.wait(timeout=300)
    return process.returncode, shown.decode("utf-8", "replace"), stdout, time.monotonic() - start


def test_a_progress_bar_on_a_terminal_and_not_with_quiet(runtime, tmp_path):
    args = ["render", "--demo", "--seconds", "300", "--threads", "1", "-o", tmp_path / "demo.wav"]
    status, shown, stdout, took = run_on_a_terminal(args, tmp_path)
    assert status == 0, shown
    if took < 1.5 and "%|" not in shown:
        pytest.skip(f"the render took {took:.2f} s here: too short for the bar to appear")
    assert "rendering" in shown and "%|" in shown and "s of audio" in shown, shown
    assert stdout.startswith("wrote ")
    status, shown, stdout, took = run_on_a_terminal([*args, "--quiet"], tmp_path)
    assert status == 0 and shown == "" and stdout == ""


def test_memory_stays_flat_and_nothing_is_drawn_in_a_pipe(runtime, tmp_path):
    """Ten minutes of stereo: the whole render held in memory would be 460 MB of float64."""
    patch = tmp_path / "stereo.json"
    patch.write_text(json.dumps({
        "nodes": [{"name": "osc", "type": "oscillator", "params": {"freq": 220.0, "amp": 0.5}},
                  {"name": "pan", "type": "pan", "params": {"pan": 0.3}}],
        "connections": [{"source": "osc", "target": "pan"}]}))
    out = tmp_path / "long.wav"
    env = dict(os.environ)
    if "libasan" in env.get("LD_PRELOAD", ""):
        # A sanitizer's allocator keeps freed memory in quarantine: measure the library as shipped.
        for name in ("LD_PRELOAD", "AMP_NATIVE_LIBRARY"):
            env.pop(name, None)
    start = time.monotonic()
    process = subprocess.Popen([*AMP, "render", str(patch), "--seconds", "600", "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    samples = []
    while process.poll() is None:
        try:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    samples.append(int(line.split()[1]) / 1024)
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.05)
    took = time.monotonic() - start
    stdout, stderr = process.communicate()
    assert process.returncode == 0, stderr
    assert stderr == b"", "nothing is drawn when stderr is not a terminal"
    info = soundfile.info(out)
    assert info.frames == 600 * 48000 and info.channels == 2
    print(f"600 s stereo render: {took:.1f} s, RSS sampled {len(samples)} times, highest {max(samples or [0]):.0f} MB")
    assert samples and max(samples) < 150


def test_ctrl_c_leaves_no_partial_file_and_the_old_one_untouched(runtime, tmp_path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"the previous take")
    process = subprocess.Popen([*AMP, "render", "--demo", "--seconds", "3600", "-o", str(target)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)  # well into the render
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr == "amp: interrupted\n" and stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]
    assert target.read_bytes() == b"the previous take"
