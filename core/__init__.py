"""GAN Studio's engine: config, data, models, losses, trainer, checkpoints, export.

Never imports Qt (tests/test_core_has_no_qt.py checks it)."""
