"""`amp` as a user runs it: the console script and `python -m amp` in subprocesses, with good and
bad patches, paths and options. Every failure is one line, `amp: error: ...`, exit status 2."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import amp

SCRIPT = Path(sys.executable).parent / "amp"
LAUNCHERS = {"script": [str(SCRIPT)], "module": [sys.executable, "-m", "amp"]}


def run(*args, launcher="module", cwd=None):
    return subprocess.run([*LAUNCHERS[launcher], *map(str, args)], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("amp: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def only(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("launcher", ["script", "module"])
def test_version_from_the_script_and_the_module(runtime, launcher):
    if launcher == "script" and not SCRIPT.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    result = run("--version", launcher=launcher)
    assert result.returncode == 0 and result.stdout == f"amp {amp.__version__}\n"


def test_missing_patch_file(runtime, tmp_path):
    assert_one_line_error(run("render", tmp_path / "nope.toml", "-o", tmp_path / "x.wav"), "nope.toml",
                          "no such patch file")
    assert only(tmp_path) == []


def test_toml_syntax_error_names_file_line_and_column(runtime, tmp_path):
    patch = tmp_path / "bad.toml"
    patch.write_text('sample_rate = 48000\n[[nodes]]\nname = "osc"\ntype = oscillator\n')
    result = run("render", patch, "-o", tmp_path / "x.wav")
    assert_one_line_error(result, str(patch), "line 4, column 8")


def test_json_syntax_error_names_file_line_and_column(runtime, tmp_path):
    patch = tmp_path / "bad.json"
    patch.write_text('{"nodes": [\n  {"name": "osc", "type": "oscillator",}\n]}\n')
    result = run("render", patch, "-o", tmp_path / "x.wav")
    # the trailing comma: line 2, column 40 (the closing brace where a name was expected)
    assert_one_line_error(result, str(patch), "line 2, column 40")


def test_a_misspelt_key_is_refused_with_its_path(runtime, tmp_path):
    patch = tmp_path / "typo.json"
    patch.write_text(json.dumps({"nodes": [{"name": "osc", "type": "oscillator", "param": {"freq": 220}}]}))
    result = run("render", patch, "-o", tmp_path / "x.wav")
    assert_one_line_error(result, str(patch), "nodes[0].param", "unknown key 'param'")
    assert only(tmp_path) == ["typo.json"]


@pytest.mark.parametrize("name, fragment", [("out.mp3", ".mp3"), ("out.txt", ".txt"), ("out", "without an extension")])
def test_unknown_extension_is_refused_before_rendering(runtime, tmp_path, name, fragment):
    result = run("render", "--seconds", "1", "-o", tmp_path / name)
    assert_one_line_error(result, fragment, ".wav")
    assert only(tmp_path) == []


def test_float_with_flac_is_refused(runtime, tmp_path):
    result = run("render", "--float", "-o", tmp_path / "x.flac")
    assert_one_line_error(result, "FLAC", "FLOAT", "PCM_24")
    assert_one_line_error(run("render", "--subtype", "PCM_99", "-o", tmp_path / "x.wav"), "PCM_99")
    assert only(tmp_path) == []


def test_unwritable_output_paths(runtime, tmp_path):
    assert_one_line_error(run("render", "-o", tmp_path / "no" / "such" / "dir.wav"), "does not exist")
    assert_one_line_error(run("render", "-o", tmp_path), "is a directory")
    (tmp_path / "dir.wav").mkdir()
    assert_one_line_error(run("render", "-o", tmp_path / "dir.wav"), "is a directory")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who may write anywhere")
        assert_one_line_error(run("render", "-o", locked / "x.wav"), "cannot write in")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("args, fragment", [
    (["--threads", "0"], "--threads"),
    (["--threads", "1.5"], "--threads"),
    (["--sample-rate", "0"], "--sample-rate"),
    (["--sample-rate", "nan"], "--sample-rate"),
    (["--block", "0"], "--block"),
    (["--seconds", "-1"], "--seconds"),
    (["--seconds", "0.00001"], "shorter than one frame"),
    (["--normalize", "0"], "--normalize"),
    (["--normalize", "1.5"], "--normalize"),
    (["--float", "--subtype", "PCM_16"], "--float"),
    (["--demo", "--frequency", "300"], "--frequency"),
    (["--sample-rate", "44100.5"], "whole number of Hz"),
])
def test_nonsensical_options_are_refused(runtime, tmp_path, args, fragment):
    assert_one_line_error(run("render", *args, "-o", tmp_path / "x.wav"), fragment)
    assert only(tmp_path) == []


def test_frequency_with_a_patch_is_refused(runtime, tmp_path):
    patch = tmp_path / "p.toml"
    patch.write_text('[[nodes]]\nname = "osc"\ntype = "oscillator"\n')
    assert_one_line_error(run("render", patch, "--frequency", "300", "-o", tmp_path / "x.wav"), "--frequency",
                          "patch")


@pytest.mark.parametrize("name, subtype, fmt", [
    ("t.wav", None, ("WAV", "PCM_24")), ("t.flac", None, ("FLAC", "PCM_24")), ("t.ogg", None, ("OGG", "VORBIS")),
    ("t.aiff", None, ("AIFF", "PCM_24")), ("t.wav", "pcm_16", ("WAV", "PCM_16")), ("t.aif", "FLOAT", ("AIFF", "FLOAT")),
])
def test_formats_by_extension_and_subtype(runtime, tmp_path, name, subtype, fmt):
    extra = ["--subtype", subtype] if subtype else []
    result = run("render", "--seconds", "0.5", "--frequency", "1000", "--amplitude", "0.5", *extra, "-o", tmp_path / name)
    assert result.returncode == 0, result.stderr
    info = soundfile.info(tmp_path / name)
    assert (info.format, info.subtype) == fmt and info.samplerate == 48000 and info.frames == 24000
    audio, _ = soundfile.read(tmp_path / name)
    n = np.arange(24000)
    reference = 0.5 * np.sin(2 * np.pi * 1000 * n / 48000)
    tolerance = {"PCM_16": 2 ** -15, "PCM_24": 2 ** -23, "FLOAT": 1e-7, "VORBIS": 0.05}[fmt[1]]
    assert np.max(np.abs(audio[2000:22000] - reference[2000:22000])) < tolerance
    assert only(tmp_path) == [name]


def test_clipping_is_reported_and_normalize_scales_instead(runtime, tmp_path):
    loud = tmp_path / "loud.wav"
    result = run("render", "--seconds", "0.1", "--frequency", "97", "--amplitude", "1.7", "-o", loud)
    assert result.returncode == 0, result.stderr
    audio, _ = soundfile.read(loud)
    n = np.arange(4800)
    tone = 1.7 * np.sin(2 * np.pi * 97 * n / 48000)
    expected_clipped = int(np.count_nonzero(np.abs(tone) > 1))
    assert f"amp: warning: {expected_clipped} samples beyond ±1 were clipped" in result.stderr
    assert f"peak {np.max(np.abs(tone)):.3f}" in result.stderr
    assert np.max(np.abs(audio)) == pytest.approx(1.0, abs=2 ** -22)
    np.testing.assert_allclose(audio, np.clip(tone, -1, 1), atol=2 ** -22)
    scaled = tmp_path / "scaled.wav"
    result = run("render", "--seconds", "0.1", "--frequency", "97", "--amplitude", "1.7", "--normalize", "0.5",
                 "-o", scaled)
    assert result.returncode == 0 and "warning" not in result.stderr
    audio, _ = soundfile.read(scaled)
    np.testing.assert_allclose(audio, tone * 0.5 / np.max(np.abs(tone)), atol=2 ** -22)
    floats = tmp_path / "float.wav"
    result = run("render", "--seconds", "0.1", "--frequency", "97", "--amplitude", "1.7", "--float", "-o", floats)
    assert result.returncode == 0 and "warning" not in result.stderr
    np.testing.assert_allclose(soundfile.read(floats)[0], tone, atol=1e-6)


def test_a_failed_render_leaves_an_existing_file_untouched(runtime, tmp_path):
    target = tmp_path / "keep.wav"
    target.write_bytes(b"precious")
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps({"nodes": [{"name": "a", "type": "gain"}, {"name": "b", "type": "gain"}],
                                 "connections": [{"source": "a", "target": "b"}, {"source": "b", "target": "a"}]}))
    result = run("render", patch, "-o", target)
    assert_one_line_error(result, "p.json")
    assert target.read_bytes() == b"precious" and only(tmp_path) == ["keep.wav", "p.json"]


def test_render_help_documents_every_option_with_its_default(runtime):
    result = run("render", "--help")
    assert result.returncode == 0
    text = result.stdout
    for word in ("WAV", "FLAC", "OGG", "AIFF", "PCM_16", "PCM_24", "FLOAT"):
        assert word in text
    options = re.findall(r"^\s+(?:-\w(?: \w+)?, )?(--[\w-]+)", text, flags=re.M)
    assert {"--out", "--seconds", "--sample-rate", "--block", "--threads", "--subtype", "--normalize", "--quiet",
            "--frequency", "--amplitude", "--float", "--demo"} <= set(options)
    blocks = re.split(r"\n(?=\s+(?:-\w(?: \w+)?, )?--)", text.split("options:", 1)[1])
    for block in filter(str.strip, blocks):
        name = re.match(r"\s+(?:-\w(?: \w+)?, )?(--[\w-]+)", block).group(1)
        if name == "--help":
            continue
        assert "(default:" in " ".join(block.split()), f"{name} does not say its default:\n{block}"


def test_nodes_shows_ranges_units_and_choice_names(runtime):
    result = run("nodes")
    assert result.returncode == 0
    text = result.stdout
    oscillator = text[text.index("\noscillator "):].split("\n", 2)[1:]
    block = text[text.index("\noscillator "):text.index("\noscillator_bank")]
    assert re.search(r"^\s+waveform\s+sine\s+sine \| saw \| square \| triangle", block, flags=re.M), block
    freq = amp.catalogue.node_spec("oscillator").param("freq")
    span = re.escape(f"[{freq.min:.10g}, {freq.max:.10g}]")
    assert re.search(rf"^\s+freq\s+{freq.default:g}\s+{span}\s+Hz$", block, flags=re.M), block
    assert "waveform=0" not in text and oscillator


def test_schema_command_prints_the_shipped_schema(runtime):
    result = run("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False and "oscillator" in schema["properties"]["nodes"]["items"][
        "properties"]["type"]["enum"]
    shipped = Path(amp.__file__).parent / "patch.schema.json"
    assert shipped.read_text() == result.stdout, "regenerate it: amp schema > src/amp/patch.schema.json"


def test_a_broken_pipe_is_not_an_error(runtime):
    result = subprocess.run(f"{sys.executable} -m amp nodes | head -n 1", shell=True, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.startswith("biquad") and result.stderr == ""


def test_a_fault_of_amps_own_is_one_line_unless_asked(runtime, monkeypatch, capsys):
    from amp import cli

    def broken(sub):
        parser = sub.add_parser("broken")
        parser.set_defaults(func=lambda args: 1 / 0)

    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, broken])
    assert cli.main(["broken"]) == 2
    err = capsys.readouterr().err
    assert err == "amp: error: internal error, ZeroDivisionError: division by zero (AMP_TRACEBACK=1 shows where)\n"
    monkeypatch.setenv("AMP_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["broken"])
