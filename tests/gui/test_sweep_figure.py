"""The (m, n) sweep figure: grokking epoch or final accuracy, learned basis and key frequencies per cell."""

import csv
import json
import xml.etree.ElementTree as ET


def test_sweep_figure_from_real_run_files(tmp_path, pow_run, small_run_file):
    from grokviz.core.runfile import save_run
    from grokviz.gui.sweep_figure import export_sweep_figure

    save_run(pow_run, tmp_path / "pow_m3_n3.pt")
    cells = []
    for (m, n), file, grokked, status in (((3, 3), "pow_m3_n3.pt", pow_run.grokked_epoch(), "finished"),
                                          ((1, 1), "small.pt", None, "finished"), ((1, 3), "", None, "pending")):
        if file == "small.pt":
            (tmp_path / file).write_bytes(small_run_file.read_bytes())
        cells.append({"name": f"pow_m{m}_n{n}", "m": m, "n": n, "p": 23, "seed": 999, "status": status,
                      "grokked_epoch": grokked, "test_acc": 0.31 if grokked is None else 1.0, "test_loss": 0.5,
                      "epochs": 2000, "epochs_done": 2000, "wall_time": 1.0, "error": "", "file": file})
    (tmp_path / "index.json").write_text(json.dumps({"format": "grokviz-sweep", "cells": cells}))
    out = tmp_path / "figure"
    files = export_sweep_figure(tmp_path, out, ("png", "svg"))
    names = sorted(p.rsplit("/", 1)[-1] for p in files)
    assert names == ["index.html", "sweep_grokked_epoch.csv", "sweep_grokked_epoch.png", "sweep_grokked_epoch.svg"]
    assert (out / "sweep_grokked_epoch.png").stat().st_size > 10_000
    svg = (out / "sweep_grokked_epoch.svg").read_text()
    ET.fromstring(svg)
    assert "grokking epoch (epochs)" in svg and "never · acc 31 %" in svg and "pending" in svg
    rows = {row["name"]: row for row in csv.DictReader((out / "sweep_grokked_epoch.csv").open())}
    assert rows["pow_m3_n3"]["basis_a"] == "power" and rows["pow_m3_n3"]["key_freqs"]
    assert rows["pow_m3_n3"]["grokked_epoch"] == str(pow_run.grokked_epoch())
    assert rows["pow_m1_n1"]["basis_a"] in ("additive", "discrete_log")  # an add run, not grokked: no clear basis
    assert rows["pow_m1_n3"]["basis_a"] == ""  # pending: nothing to analyse
