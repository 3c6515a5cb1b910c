"""A combo box of named choices: each item shows a label and carries its value (``currentData()``)."""

from __future__ import annotations

from PySide6 import QtWidgets


def choice_combo(labels: dict, tooltip: str = "") -> QtWidgets.QComboBox:
    """Items in ``labels``' order: ``{value: label}``."""
    box = QtWidgets.QComboBox()
    for value, label in labels.items():
        box.addItem(label, value)
    if tooltip:
        box.setToolTip(tooltip)
    return box
