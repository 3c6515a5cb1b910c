"""A layout that lays its widgets out in a row and wraps them onto more rows when narrow (Qt's
FlowLayout example): a row of controls then never sets the window's minimum width."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class FlowLayout(QtWidgets.QLayout):
    """Widgets left to right, wrapping to the next row where the width runs out. ``stretch_last``
    puts the last item at the right end of its row (e.g. a Reset button)."""

    def __init__(self, parent=None, spacing: int = 10, stretch_last: bool = False):
        super().__init__(parent)
        self._items: list = []
        self._spacing = spacing
        self.stretch_last = stretch_last
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item):  # noqa: N802 - Qt API
        self._items.append(item)

    def count(self):
        return len(self._items)

    def itemAt(self, index):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return QtCore.Qt.Orientation(0)

    def hasHeightForWidth(self):  # noqa: N802
        return True

    def heightForWidth(self, width):  # noqa: N802
        return self._arrange(QtCore.QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect):  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self):  # noqa: N802
        hints = [item.sizeHint() for item in self._items]
        width = sum(h.width() for h in hints) + self._spacing * max(len(hints) - 1, 0)
        return QtCore.QSize(width, max((h.height() for h in hints), default=0))

    def minimumSize(self):  # noqa: N802
        size = QtCore.QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        left, top, right, bottom = self.getContentsMargins()
        return size + QtCore.QSize(left + right, top + bottom)

    def _arrange(self, rect: QtCore.QRect, apply: bool) -> int:
        left, top, right, bottom = self.getContentsMargins()
        area = rect.adjusted(left, top, -right, -bottom)
        x, y, row_height = area.x(), area.y(), 0
        rows: list = [[]]
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and rows[-1]:
                x, y, row_height = area.x(), y + row_height + self._spacing // 2, 0
                rows.append([])
            rows[-1].append((item, QtCore.QRect(QtCore.QPoint(x, y), hint)))
            x += hint.width() + self._spacing
            row_height = max(row_height, hint.height())
        if apply:
            for row in rows:
                height = max((geometry.height() for _, geometry in row), default=0)
                for index, (item, geometry) in enumerate(row):
                    if self.stretch_last and item is self._items[-1] and index == len(row) - 1:
                        geometry.moveRight(area.right())
                    geometry.moveTop(geometry.top() + (height - geometry.height()) // 2)
                    item.setGeometry(geometry)
        return y + row_height - rect.y() + bottom
