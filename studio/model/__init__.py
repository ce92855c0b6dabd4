"""What the studio knows about the run it shows, and the person's remembered choices (no widgets)."""
