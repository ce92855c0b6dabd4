"""The training step and its surroundings: the loop (trainer), the session (models, optimizers,
state, one step), losses, DiffAugment, EMA, live control, devices, CPU threads, torchrun."""
