"""The run folder: its layout and torch-free readers (folder, index, history, notes, heartbeat,
lock), its writer, checkpoints, the command channel and forks."""
