"""Small modal helpers, looked up at call time so tests can monkeypatch them.

``show_error(parent, message, details)`` shows the one-line message with expandable details;
``ask_yes_no(parent, title, question)`` returns a bool.
"""

from __future__ import annotations

from PySide6 import QtWidgets

from grokviz.core.errors import format_details, user_message  # noqa: F401  (Qt-free; re-exported)


def show_error(parent, message: str, details: str = "", title: str = "grokviz") -> None:
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QtWidgets.QMessageBox.StandardButton.Ok)
    box.exec()


def ask_yes_no(parent, title: str, question: str) -> bool:
    answer = QtWidgets.QMessageBox.question(parent, title, question,
                                            QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
                                            QtWidgets.QMessageBox.StandardButton.No)
    return answer == QtWidgets.QMessageBox.StandardButton.Yes
