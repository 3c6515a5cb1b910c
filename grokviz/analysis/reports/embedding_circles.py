"""Embedding circles (design.md §6b): W_E on each key frequency's (cos k, sin k) plane, per checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from grokviz.analysis.reports import report


@report("embedding_circles", "Embedding circles")
def embedding_circles(session, epoch, frequencies: tuple | None = None):
    """Token embeddings on each key frequency's plane, with a circularity score (1 = ideal circle)."""
    from grokviz.analysis.embedding_circles import embedding_circles as circles

    from grokviz.analysis.reports.key_frequencies import run_circle_frequencies

    # the run's (final) key frequencies (or W_E candidates before grokking), the same planes at every checkpoint
    freqs = list(frequencies) if frequencies is not None else run_circle_frequencies(session)
    return circles(session.run.state_dict(epoch)["embed.W_E"], session.task, freqs)


@dataclass(frozen=True)
class CirclesHistory:
    epochs: list
    frequencies: list
    frames: list  # EmbeddingCircles per epoch

    def to_json(self) -> dict:
        return {"epochs": self.epochs, "frequencies": self.frequencies,
                "circularity": {o.operand: [[frame.operands[i].circularity[j] for frame in self.frames]
                                            for j in range(len(self.frequencies))]
                                for i, o in enumerate(self.frames[0].operands)} if self.frames else {}}


@report("embedding_circles_history", "Embedding circles over training", per_checkpoint=False)
def embedding_circles_history(session, epoch, on_progress=None, cancel=None):
    """The circles at every stored checkpoint (cheap: W_E only), for the animation."""
    from grokviz.analysis.reports.series import over_checkpoints
    from grokviz.analysis.reports.key_frequencies import run_circle_frequencies

    freqs = tuple(run_circle_frequencies(session))
    frames = over_checkpoints(session, "embedding_circles", session.epochs, on_progress, cancel, frequencies=freqs)
    return CirclesHistory(list(session.epochs), list(freqs), frames)
