"""The source–target attention heat map that ``seqkit predict --attention-plot`` writes (matplotlib)."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from seqkit import SeqkitError


def numbered(path: str, n: int) -> Path:
    """The file of the *n*-th text (from 0): ``out.png``, then ``out-2.png``, ``out-3.png`` …"""
    first = Path(path)
    return first if n == 0 else first.with_name(f"{first.stem}-{n + 1}{first.suffix}")


def plot_attention(weights: Tensor, source: list[str], target: list[str], path: Path) -> Path:
    """Write ``weights (len(target), len(source))`` as a PNG: one row per output token, one column per source token."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SeqkitError(
            "--attention-plot needs matplotlib: pip install 'seqkit[plot]' (or pip install matplotlib)"
        ) from None
    data = weights[: len(target), : len(source)].float().numpy()
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(source) + 1.5), max(3, 0.4 * len(target) + 1.2)))
    image = ax.imshow(data, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), source, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(target)), target, fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=120)
    except OSError as error:
        raise SeqkitError(f"--attention-plot {path}: {error.strerror or error}") from None
    finally:
        plt.close(fig)
    return path
