"""What the person is told as a run starts about how it uses its data and the disk (ev.Notice lines)."""

from __future__ import annotations

from core.data.batches import StreamingBatches
from core.training.session import Session

CHECKPOINT_NOTE_BYTES = 10**9  # checkpoints this big are worth a word before the first is written


def start_notices(session: Session) -> list[str]:
    """What the person should know about how this run uses its data."""
    s = session
    notes = []
    if (precision := s.precision.notice()) is not None:
        notes.append(precision)
    if s.augment and s.config.data.augment == "auto":
        notes.append(f"Adaptive augmentation is on ({', '.join(s.augment)}): so that the discriminator cannot "
                     f"learn the {len(s.batches.images):,} pictures by heart, each picture it sees is augmented "
                     "with a chance that rises while it is too sure of the real pictures and falls when it is "
                     "not (the Augment p curve; data.augment = off turns it off).")
    if s.cluster_shares is not None:
        used = s.cluster_shares[s.cluster_shares > 0]
        names, inside = s.cluster_kinds
        where = ""
        if names:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            where = (f", made inside each of the folder's {len(names)} sub-folders ({shown})" if inside else
                     f", made over the whole folder: model.clusters = {len(s.cluster_shares)} is fewer than its "
                     f"{len(names)} sub-folders")
        each = ", and so each sub-folder," if names and inside else ""
        notes.append(f"The pictures are grouped into {len(used)} clusters of look-alikes ({used.min():.1%} "
                     f"to {used.max():.1%} of them each){where}; the generator draws each cluster{each} as often "
                     "as the data holds it (model.clusters = 0 turns this off).")
    if s.size.checkpoint_bytes >= CHECKPOINT_NOTE_BYTES:
        notes.append(f"Each checkpoint of this run is about {s.size.checkpoint_bytes / 1e9:,.1f} GB on disk "
                     f"({s.size.params / 1e6:,.0f} M parameters; {s.size.dominant} sets most of them).")
    if isinstance(s.batches, StreamingBatches):
        notes.append(f"The pictures ({s.batches.images.nbytes / 2**30:.1f} GiB decoded) are read from "
                     "the folder's cache on disk in the background, batch by batch, rather than held in "
                     "memory.")
    return notes
