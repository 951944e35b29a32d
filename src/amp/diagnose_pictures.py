"""Pictures of a diagnostic dump: the blocks' waveform and spectrogram, and the graph with its node
order (matplotlib, from the ``diagnostics`` extra)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["render_pictures"]


def render_pictures(directory: Path, graph, plan, blocks: list[np.ndarray], sample_rate: float) -> dict:
    """Draws waveform.png and graph.png into `directory` when matplotlib is installed; returns what was drawn, or
    why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {"skipped": "matplotlib is not installed (pip install 'amp-synth[diagnostics]')"}
    audio = np.concatenate(blocks, axis=-1)[0]
    frames = audio.shape[-1]
    channels = audio.shape[0]
    fig, axes = plt.subplots(channels + 1, 1, figsize=(10, 2.2 * (channels + 1)), squeeze=False)
    t = np.arange(frames) / sample_rate
    block_frames = blocks[0].shape[-1]
    for c in range(channels):
        ax = axes[c][0]
        ax.plot(t, audio[c], linewidth=0.6)
        for k in range(1, len(blocks)):
            ax.axvline(k * block_frames / sample_rate, color="grey", linewidth=0.5, linestyle=":")
        ax.set_ylabel(f"ch {c}")
        ax.set_xlim(0, frames / sample_rate)
    axes[0][0].set_title(f"{len(blocks)} blocks of {block_frames} frames at {sample_rate:g} Hz (batch row 0)")
    spec_ax = axes[channels][0]
    clean = np.nan_to_num(audio[0], nan=0.0, posinf=0.0, neginf=0.0)
    nfft = int(min(256, max(16, 2 ** int(math.log2(max(frames // 8, 16))))))
    if frames > nfft and np.any(clean):
        spec_ax.specgram(clean, NFFT=nfft, Fs=sample_rate, noverlap=nfft // 2, cmap="magma")
    else:
        spec_ax.text(0.5, 0.5, "silent or too short for a spectrogram", ha="center", va="center")
    spec_ax.set_ylabel("Hz (ch 0)")
    spec_ax.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(directory / "waveform.png", dpi=90)
    plt.close(fig)

    names = graph.nodes
    config = graph.to_config()
    index = {n: i for i, n in enumerate(names)}
    depth = [0] * len(names)
    position = {n: k for k, n in enumerate(plan.order)}
    sources: dict[int, list[int]] = {i: [] for i in range(len(names))}
    for e in config["connections"]:
        sources[index[e["target"]]].append(index[e["source"]])
    for m in config["modulations"]:
        sources[index[m["target"]]].append(index[m["source"]])
    for n in plan.order:
        earlier = [depth[s] + 1 for s in sources[n] if position[s] < position[n]]
        depth[n] = max(earlier, default=0)
    columns: dict[int, list[int]] = {}
    for n in plan.order:
        columns.setdefault(depth[n], []).append(n)
    xy = {}
    for d, members in columns.items():
        for row, n in enumerate(members):
            xy[n] = (d * 3.0, -row * 1.4)
    width = max(6.0, 3.0 * (len(columns) + 1))
    height = max(3.0, 1.4 * max(len(m) for m in columns.values()) + 1)
    fig, ax = plt.subplots(figsize=(width, height))
    for e in config["connections"]:
        a, b = xy[index[e["source"]]], xy[index[e["target"]]]
        ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", color="black", shrinkA=30, shrinkB=30))
    for m in config["modulations"]:
        a, b = xy[index[m["source"]]], xy[index[m["target"]]]
        ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="->", color="tab:blue", linestyle="--",
                                                        shrinkA=30, shrinkB=30, connectionstyle="arc3,rad=0.2"))
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.25, f"{m['mode']} .{m['param']}", color="tab:blue",
                fontsize=7, ha="center")
    bound = {c["node"]: c["key"] for c in config.get("controls", [])}
    for n, (x, y) in xy.items():
        name = names[n]
        label = f"#{position[n]} {name}\n{graph.node_type(name)} ({plan.channels[n]} ch)"
        if name in bound:
            label += f"\nkey: {bound[name]}"
        colour = "gold" if name == graph.sink else "lightsteelblue"
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", facecolor=colour, edgecolor="black"))
    ax.set_xlim(-2, 3.0 * max(columns) + 2)
    ax.set_ylim(min(y for _x, y in xy.values()) - 1, 1)
    ax.set_axis_off()
    ax.set_title("graph: #execution position, name, type; black = audio, dashed blue = modulation, gold = sink")
    fig.tight_layout()
    fig.savefig(directory / "graph.png", dpi=90)
    plt.close(fig)
    return {"waveform": "waveform.png", "graph": "graph.png"}


