"""Labels whose text never resizes anything: one line ending in "…" (ElidedLabel), or wrapped lines
that get the width the layout gives them (WrappedLabel).

Text that changes as the mouse moves (a hover readout, a status tip) must not push its
neighbours around; a plain QLabel asks its layout for the width of its whole text.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QTextDocument
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

WRAPPED_HINT = 320  # px: the most a WrappedLabel asks for (the layout may give it more)


class ElidedLabel(QLabel):
    """Plain or rich one-line text; the layout gives it what is left over, whatever it says."""

    def __init__(self, text: str = "", parent: QWidget | None = None, objectName: str = ""):
        super().__init__(text, parent, objectName=objectName)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.setMinimumWidth(0)

    def sizeHint(self) -> QSize:
        return QSize(0, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:
        text = self.text()
        if not text:
            return
        p = QPainter(self)
        rect = self.contentsRect().adjusted(self.margin(), 0, -self.margin(), 0)
        if self.textFormat() == Qt.RichText:
            doc = QTextDocument()
            doc.setDefaultFont(self.font())
            doc.setHtml(f"<span style='color:{self.palette().windowText().color().name()}'>{text}</span>")
            doc.setDocumentMargin(0)
            p.setClipRect(rect)
            p.translate(rect.left(), rect.top() + (rect.height() - doc.size().height()) / 2)
            doc.drawContents(p)
            return
        shown = self.fontMetrics().elidedText(text, Qt.ElideRight, rect.width())
        p.setPen(self.palette().windowText().color())
        p.drawText(rect, int(self.alignment() | Qt.AlignVCenter), shown)


class WrappedLabel(QLabel):
    """Word-wrapped text whose width the layout decides: a word wider than that (a path) is cut at the
    edge rather than widening the window (set the whole text as its tooltip where that can happen).

    A plain word-wrapped QLabel asks for the width of its longest word as its minimum."""

    def __init__(self, text: str = "", parent: QWidget | None = None, objectName: str = "", **kwargs):
        super().__init__(text, parent, objectName=objectName, **kwargs)
        self.setWordWrap(True)
        policy = QSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(min(hint.width(), WRAPPED_HINT), hint.height())
