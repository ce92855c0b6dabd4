"""What the data modules share: the picture files a folder may hold and the error a dataset raises.

Its own module so that the folder cache (image_cache) and the datasets that use it import one
direction only."""

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class DataError(ValueError):
    """A dataset that cannot be used; the message says which and why."""
