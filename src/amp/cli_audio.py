"""`amp render` and `amp play`: what to sound (a patch file, the demo instrument or a test tone),
and where (a sound file, or the default output device)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from .cli import finite_number, positive_number, whole_number
from .errors import GraphError

__all__ = ["register_render", "register_play", "Source", "build_source"]

DEFAULT_SAMPLE_RATE = 48000.0
DEFAULT_FREQUENCY = 440.0
DEFAULT_AMPLITUDE = 0.25


@dataclass
class Source:
    """A graph to sound, its sample rate, and its natural length in seconds (None: endless)."""

    graph: object
    sample_rate: float
    natural_seconds: float | None
    description: str


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patch", nargs="?", help="a .json or .toml patch file (docs/patches.md); without one, a "
                        "sine test tone, or the built-in instrument with --demo")
    parser.add_argument("--demo", action="store_true",
                        help="a short phrase on the built-in three-oscillator instrument (amp.app) instead of a patch "
                             "(default: off)")
    parser.add_argument("--sample-rate", type=positive_number, default=None, metavar="HZ",
                        help=f"sample rate in Hz (default: the patch's sample_rate, else {DEFAULT_SAMPLE_RATE:g})")
    parser.add_argument("--block", type=whole_number(1, 65536), default=256, metavar="FRAMES",
                        help="frames the runtime renders per block (default: 256)")
    parser.add_argument("--threads", type=whole_number(1, 1024), default=None, metavar="N",
                        help="worker threads of the runtime (default: the machine's cores)")
    parser.add_argument("--frequency", type=finite_number, default=None, metavar="HZ",
                        help=f"test tone frequency in Hz, without a patch (default: {DEFAULT_FREQUENCY:g})")
    parser.add_argument("--amplitude", type=finite_number, default=None, metavar="A",
                        help=f"test tone amplitude, without a patch (default: {DEFAULT_AMPLITUDE:g})")


def build_source(args) -> Source:
    """The graph the options name; usage mistakes end through ``args.parser.error``."""
    from .graph import AudioGraph

    tone_options = [name for name in ("frequency", "amplitude") if getattr(args, name) is not None]
    if args.demo and args.patch:
        args.parser.error("--demo plays the built-in instrument; leave out the patch file")
    if tone_options and (args.patch or args.demo):
        what = "a patch" if args.patch else "--demo"
        args.parser.error(f"--{tone_options[0]} sets the test tone; it cannot be used with {what}")
    if args.patch:
        try:
            graph = AudioGraph.from_config(args.patch)
            graph.compile()  # a cycle or a missing input is the patch's fault: name the file
        except GraphError as exc:
            message = str(exc)
            raise GraphError(message if message.startswith(str(args.patch)) else f"{args.patch}: {message}") from None
        return Source(graph, args.sample_rate or graph.sample_rate, None, args.patch)
    sample_rate = args.sample_rate or DEFAULT_SAMPLE_RATE
    if args.demo:
        from . import app

        graph = app.build_runtime_graph(sample_rate)
        return Source(graph, sample_rate, None, "the demo instrument")
    graph = AudioGraph(sample_rate)
    frequency = DEFAULT_FREQUENCY if args.frequency is None else args.frequency
    amplitude = DEFAULT_AMPLITUDE if args.amplitude is None else args.amplitude
    graph.add_node("osc", "oscillator", freq=frequency, amp=amplitude)
    graph.set_sink("osc")
    return Source(graph, sample_rate, None, f"a {frequency:g} Hz test tone")


def _frames(args, seconds: float, sample_rate: float) -> int:
    frames = int(round(seconds * sample_rate))
    if frames < 1:
        args.parser.error(f"--seconds {seconds:g} is shorter than one frame at {sample_rate:g} Hz")
    return frames


# ----- amp render ---------------------------------------------------------------------------------
def _cmd_render(args) -> int:
    from . import app
    from .output_file import output_format
    from .render_file import render_to_file

    if args.float and args.subtype:
        args.parser.error("--float is --subtype FLOAT; give one of them")
    if args.normalize is not None and args.normalize > 1:
        args.parser.error(f"--normalize {args.normalize:g}: the peak is at most 1")
    fmt = output_format(args.out, "FLOAT" if args.float else args.subtype)  # before any work
    source = build_source(args)
    frames = _frames(args, args.seconds, source.sample_rate)
    if args.demo:
        app.record_demo_performance(source.graph, frames / source.sample_rate)
    result = render_to_file(source.graph, fmt, frames, sample_rate=source.sample_rate, block=args.block,
                            threads=args.threads, normalize=args.normalize, progress=not args.quiet)
    if result.clipped:
        print(f"amp: warning: {result.clipped} samples beyond ±1 were clipped in {result.path} (peak "
              f"{result.peak:.3f}); --normalize PEAK scales instead, --subtype FLOAT keeps them", file=sys.stderr)
    if not args.quiet:
        gain = f", scaled by {result.gain:.4g}" if args.normalize is not None else ""
        print(f"wrote {result.path}: {result.frames} frames, {result.channels} channel(s) at "
              f"{result.sample_rate:g} Hz, {fmt.format} {fmt.subtype}, peak {result.peak:.3f}{gain}")
    return 0


def register_render(sub) -> None:
    """Adds `amp render` to the subparsers."""
    render = sub.add_parser(
        "render", help="render a patch (or the demo, or a test tone) to a sound file",
        description="Renders into a sound file, block by block as it goes (memory stays flat however long "
                    "the render). The format follows the extension: .wav (WAV), .flac (FLAC), .ogg/.oga "
                    "(OGG/Vorbis), .aif/.aiff (AIFF). The file appears only when the render has succeeded; "
                    "a progress bar shows on a terminal for renders longer than about a second.")
    _add_source_arguments(render)
    render.add_argument("-o", "--out", default="amp.wav", metavar="FILE",
                        help="output file; its extension picks the format (default: amp.wav)")
    render.add_argument("--seconds", type=positive_number, default=3.0, help="length in seconds (default: 3)")
    render.add_argument("--subtype", default=None, type=str.upper,
                        help="sample format as soundfile names it: PCM_16, PCM_24, PCM_32, FLOAT, DOUBLE (WAV, AIFF), "
                             "PCM_16, PCM_24 (FLAC), VORBIS (OGG) (default: PCM_24, VORBIS for OGG)")
    render.add_argument("--float", action="store_true", help="same as --subtype FLOAT (default: off)")
    render.add_argument("--normalize", type=positive_number, default=None, metavar="PEAK",
                        help="scale the output so that its peak is PEAK (at most 1); renders twice, once to measure "
                             "(default: off: samples beyond ±1 are clipped, with a warning, in integer formats)")
    render.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar and no summary line; warnings still go to stderr (default: off)")
    render.set_defaults(func=_cmd_render, parser=render)


# ----- amp play -----------------------------------------------------------------------------------
def _cmd_play(args) -> int:
    from . import app
    from .playback import import_sounddevice, play

    sd = import_sounddevice()  # before building anything: a missing extra is the likeliest failure
    source = build_source(args)
    seconds = args.seconds
    if args.demo:
        seconds = app.record_demo_performance(source.graph, seconds)
    frames = None if seconds is None else _frames(args, seconds, source.sample_rate)
    length = "until Ctrl-C" if frames is None else f"for {frames / source.sample_rate:g} s"

    def started(_feeder) -> None:
        if not args.quiet:
            print(f"playing {source.description} {length}", file=sys.stderr)

    feeder = play(source.graph, frames, sample_rate=source.sample_rate, block=args.block, threads=args.threads,
                  sounddevice=sd, on_start=started)
    if feeder.underruns or feeder.device_underflows:
        print(f"amp: warning: {feeder.underruns} buffer(s) not rendered in time, {feeder.device_underflows} "
              "reported late by the device; try a larger --block", file=sys.stderr)
    return 0


def register_play(sub) -> None:
    """Adds `amp play` to the subparsers."""
    play = sub.add_parser(
        "play", help="play a patch (or the demo, or a test tone) on the default output device",
        description='Plays through the default output device with python-sounddevice (pip install '
                    '"amp-synth[play]"; it needs the PortAudio library). Ctrl-C stops at once.')
    _add_source_arguments(play)
    play.add_argument("--seconds", type=positive_number, default=None,
                      help="how long to play (default: the demo's phrase once; a patch or the tone until Ctrl-C)")
    play.add_argument("-q", "--quiet", action="store_true", help="say nothing unless something fails (default: off)")
    play.set_defaults(func=_cmd_play, parser=play)
