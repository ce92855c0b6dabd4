"""How often each of a folder's sub-folders is drawn, from a picture reading whose groups were made inside
them (core/quality/picture_reading.py): a sample nearest a group counts for that group's sub-folder.

One rule for the app's chart and the CLI's line: a sub-folder drawn under half its share of the folder is
under-drawn (#27's "every kind drawn, none below half its share"). A rough count, as the groups are: a
sample is put with the nearest group in a random network's features, not told apart by a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.events import Quality

UNDER_SHARE = 0.5  # a sub-folder drawn under half its share of the folder is under-drawn


@dataclass(frozen=True)
class KindsDrawn:
    names: tuple[str, ...]
    drawn: tuple[float, ...]  # each sub-folder's share of the samples; sums to 1
    folder: tuple[float, ...]  # each one's share of the folder's pictures (as the reading put them)
    under: tuple[int, ...]  # those drawn under UNDER_SHARE of their share, least drawn first

    def ratio(self, i: int) -> float:
        return self.drawn[i] / self.folder[i] if self.folder[i] else float("nan")

    def words(self) -> str:
        """'8 sub-folders, each drawn at half its share or more', or which are not and how far."""
        n = len(self.names)
        if not self.under:
            return f"{n} sub-folders, each drawn at half its share or more"
        worst = ", ".join(f"{self.names[i]} at {self.ratio(i):.2f}" for i in self.under[:3])
        more = f" and {len(self.under) - 3} more" if len(self.under) > 3 else ""
        return f"{n} sub-folders; under half their share: {worst}{more}"


    def short(self) -> str:
        """For a narrow panel: '8 sub-folders: all at half their share or more' or how many are not."""
        n = len(self.names)
        return (f"{n} sub-folders: {len(self.under)} under half their share" if self.under
                else f"{n} sub-folders: all at half their share or more")


def kinds_drawn(q: Quality) -> KindsDrawn | None:
    """Per sub-folder shares of a picture reading whose groups carry their sub-folders; None otherwise
    (digits, a folder without sub-folders, a reading from before they were kept)."""
    n = len(q.kind_names)
    if n < 2 or len(q.group_kinds) != len(q.histogram) or len(q.reference) != len(q.histogram) \
            or any(not 0 <= k < n for k in q.group_kinds):
        return None
    drawn, folder = [0.0] * n, [0.0] * n
    for kind, share, ref in zip(q.group_kinds, q.histogram, q.reference):
        drawn[kind] += share
        folder[kind] += ref
    under = sorted((i for i in range(n) if folder[i] > 0 and drawn[i] < UNDER_SHARE * folder[i]),
                   key=lambda i: drawn[i] / folder[i])
    return KindsDrawn(tuple(q.kind_names), tuple(drawn), tuple(folder), tuple(under))
