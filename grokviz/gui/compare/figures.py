"""``grokviz export A B --out DIR``: every figure of ``grokviz export RUN``, for two runs side by side.

The figure sets (:func:`grokviz.gui.figures.render_figures`, the §6b
:func:`~grokviz.gui.mechanism_figures.render_mechanism_figures`) are run once per run with a
collecting writer instead of :func:`~grokviz.gui.figures.figure_writer`: each figure's draw function is
kept, not drawn. Each pair is then drawn into one canvas twice as wide — run A's figure in the left
half, run B's in the right, each under its own heading (run, task, epoch) — so no plotting code is
repeated. Each half's CSVs are written as ``NAME_a….csv`` and ``NAME_b….csv``.

Which checkpoints are shown (:func:`paired_epochs`): each run's final weights, or with an epoch, A's
stored checkpoint nearest it and B's paired with that one by the same epoch or the same fraction of
training (:func:`grokviz.core.epochs.paired_epoch`, the comparison window's rule). Every title, CSV
comment and the index say which (:class:`Pairing`: "epoch 1,400 (47 %) vs 900 (45 %)").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from grokviz.core.epochs import MODE_LABELS, check_mode, fraction_of, paired_epoch
from grokviz.gui.figures import (FIGURE_SIZE, FigureRecord, build_figures, ensure_application, figure_set_notes,
                                 new_canvas, render_figures, save_canvas, write_index)

SIDES = ("a", "b")
HEADING_HEIGHT = 60  # the paired canvas is this much taller than two figures side by side


@dataclass
class FigureSpec:
    """One figure of a set, not drawn yet: what :func:`grokviz.gui.figures.figure_writer` is given."""

    name: str
    title: str
    caption: str
    draw: object  # draw(layout): fills rows 1… of a pg.GraphicsLayout
    csv_data: object
    label: str
    colspan: int


@dataclass(frozen=True)
class Pairing:
    """The checkpoints shown, ``{side: epoch}``, each as a fraction of its run's training, and why
    (``basis``: "each run's final weights" or "the same epoch" / "the same fraction of training")."""

    epochs: dict
    fractions: dict
    basis: str

    def text(self) -> str:
        a, b = (f"{self.epochs[side]:,} ({100 * self.fractions[side]:.0f} %)" for side in SIDES)
        return f"epoch {a} vs {b}"

    def of(self, side: str) -> str:
        return f"epoch {self.epochs[side]:,} ({100 * self.fractions[side]:.0f} % of training)"


def paired_epochs(run_a, run_b, epoch=None, pair: str = "epoch") -> dict:
    """``{side: epoch}`` of the paired export: without ``epoch`` each run's final weights (None);
    with it, A's stored checkpoint nearest ``epoch`` and B's paired with that one by ``pair``
    (``"epoch"`` or ``"fraction"``, :func:`grokviz.core.epochs.paired_epoch`)."""
    check_mode(pair)
    if epoch is None:
        return {"a": None, "b": None}
    at = run_a.nearest_epoch(epoch)
    return {"a": at, "b": paired_epoch(pair, run_a.epochs, run_b.epochs, at)}


def collecting_writer(directory, formats, label, records, colspan):
    """A figure writer (see :func:`grokviz.gui.figures.figure_writer`) that appends FigureSpecs."""

    def figure(name, title, caption, draw, csv_data):
        records.append(FigureSpec(name, title, caption, draw, csv_data, label, colspan))

    return figure


def collect_figures(run, directory, formats, epoch=None, report=None, max_checkpoints: int = 150,
                    slice_c=None, extra_figures=()) -> tuple[int, list, list]:
    """(epoch, [FigureSpec], index notes) of ``run``'s whole ``grokviz export`` set at ``epoch`` (final by default)."""
    data = build_figures(run, epoch, report=report, max_checkpoints=max_checkpoints)
    options = {} if slice_c is None else {"slice_c": slice_c}
    specs = render_figures(data, directory, formats, writer=collecting_writer, **options)
    for render in extra_figures:
        specs += render(run, directory, formats, data["epoch"], writer=collecting_writer)
    return data["epoch"], specs, figure_set_notes(data)


def _heading(side: str, spec: FigureSpec, pairing: Pairing) -> str:
    return f"<b>{side.upper()}</b> · {spec.label} · {pairing.of(side)} · {spec.title}"


def _tagged(data, side: str, label: str, pairing: Pairing):
    """The CSV data with the run and the pairing named in its comment (a copy; the figure's data is left alone)."""
    note = f"{side.upper()}: {label}, epoch {pairing.epochs[side]}; A and B: {pairing.text()}, {pairing.basis}"
    comment = getattr(data, "comment", "")
    return replace(data, comment=f"{note}; {comment}" if comment else note)


def _csvs(side: str, spec: FigureSpec | None, pairing: Pairing) -> dict:
    if spec is None or spec.csv_data is None:
        return {}
    data = spec.csv_data if isinstance(spec.csv_data, dict) else {"": spec.csv_data}
    return {f"_{side}{suffix}": _tagged(value, side, spec.label, pairing) for suffix, value in data.items()}


def draw_pair(name: str, pair: dict, pairing: Pairing, labels: dict, directory, formats) -> FigureRecord:
    """One canvas: run A's figure ``name`` left, run B's right (a run without it gets a note); saved."""
    width, height = FIGURE_SIZE
    canvas = new_canvas((2 * width, height + HEADING_HEIGHT))
    grid = canvas.ci.layout
    half_width = (2 * width - 24 - grid.horizontalSpacing()) / 2  # 12 px canvas margins each side
    csvs = {}
    for col, side in enumerate(SIDES):
        grid.setColumnFixedWidth(col, half_width)  # equal halves, whatever each side draws
        half = canvas.ci.addLayout(row=0, col=col)
        spec = pair.get(side)
        if spec is None:
            half.addLabel(f"<b>{side.upper()}</b> · {labels[side]} · {pairing.of(side)}: "
                          f"no “{name}” figure for this run (index.html says why)", row=0, col=0, size="11pt",
                          color="#555")
            continue
        half.addLabel(_heading(side, spec, pairing), row=0, col=0, colspan=spec.colspan, size="11pt",
                      color="#333")
        spec.draw(half)
        csvs.update(_csvs(side, spec, pairing))
    shown = pair.get("a") or pair.get("b")
    record = FigureRecord(name, f"{shown.title} — A and B, {pairing.text()}",
                          "Left: " + (pair["a"].caption if "a" in pair else "(none)") + " Right: "
                          + (pair["b"].caption if "b" in pair else "(none)"))
    record.files = save_canvas(canvas, directory, name, formats, csvs)
    return record


def export_paired_figures(run_a, run_b, directory, formats=("png", "svg"), epoch=None, report=None,
                          max_checkpoints: int = 150, slice_c=None, extra_figures=(), pair: str = "epoch") -> list:
    """Every figure of ``grokviz export`` for ``run_a`` and ``run_b`` side by side into ``directory``,
    at the checkpoints :func:`paired_epochs` picks (default: each run's final weights; with ``epoch``,
    B's paired with A's by ``pair``), with both runs' CSVs and an index.html; returns the written
    paths (index.html last)."""
    ensure_application()
    os.makedirs(directory, exist_ok=True)
    wanted = paired_epochs(run_a, run_b, epoch, pair)
    specs, epochs, labels, notes = {}, {}, {}, {}
    for index, (side, run) in enumerate(zip(SIDES, (run_a, run_b))):
        def say(fraction, text, index=index, side=side):
            if report is not None:
                report((index + fraction) / 2, f"{side.upper()}: {text}")
        epochs[side], specs[side], notes[side] = collect_figures(run, directory, formats, wanted[side], say,
                                                                 max_checkpoints, slice_c, extra_figures)
        labels[side] = specs[side][0].label if specs[side] else side.upper()
    basis = "each run's final weights" if epoch is None else f"paired by the {MODE_LABELS[pair]}"
    pairing = Pairing(epochs, {side: fraction_of(run.epochs, epochs[side]) for side, run in zip(SIDES, (run_a, run_b))},
                      basis)
    names = [s.name for s in specs["a"]] + [s.name for s in specs["b"] if s.name not in {t.name for t in specs["a"]}]
    records = []
    for name in sorted(names):
        pair_specs = {side: spec for side in SIDES for spec in specs[side] if spec.name == name}
        records.append(draw_pair(name, pair_specs, pairing, labels, directory, formats))
    lines = ["Each figure shows A on the left and B on the right; NAME_a*.csv and NAME_b*.csv hold each side's data.",
             f"Checkpoints: {pairing.text()} ({pairing.basis})."]
    lines += [f"{side.upper()}: {labels[side]}. " + " ".join(notes[side]) for side in SIDES]
    index = write_index(directory, records, f"grokviz figures — {labels['a']} vs {labels['b']}", lines)
    return [f for record in records for f in record.files] + [index]
