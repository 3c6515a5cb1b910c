"""Clock vs pizza (design.md §6b): gradient symmetricity and distance irrelevance per checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from grokviz.analysis.clock_pizza import DEFAULT_SEED, DEFAULT_TRIPLES
from grokviz.analysis.reports import report


@report("clock_pizza", "Clock vs pizza")
def clock_pizza(session, epoch, n_triples: int = DEFAULT_TRIPLES, seed: int = DEFAULT_SEED):
    """Gradient symmetricity s_g, distance irrelevance q, verdict, and the [a+b, a−b] correct logit."""
    from grokviz.analysis.clock_pizza import clock_pizza as measure

    return measure(session.model(epoch), session.task, n_triples, seed)


@dataclass(frozen=True)
class ClockPizzaHistory:
    epochs: list
    gradient_symmetricity: list
    distance_irrelevance: list
    verdict: list
    n_triples: int
    seed: int


@report("clock_pizza_history", "Clock vs pizza over training", per_checkpoint=False)
def clock_pizza_history(session, epoch, max_checkpoints: int | None = None, on_progress=None, cancel=None,
                        **options):
    """s_g and q at every stored checkpoint (at most ``max_checkpoints``, evenly spread)."""
    from grokviz.analysis.reports.series import over_checkpoints
    from grokviz.analysis.reports.progress import subsample_epochs

    epochs = subsample_epochs(session.epochs, max_checkpoints)
    rows = over_checkpoints(session, "clock_pizza", epochs, on_progress, cancel, **options)
    return ClockPizzaHistory(epochs, [r.gradient_symmetricity for r in rows], [r.distance_irrelevance for r in rows],
                             [r.verdict for r in rows], rows[0].n_triples, rows[0].seed)
