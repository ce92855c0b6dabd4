"""What the window shows: each panel follows the model of the run shown (studio/model) and the session's signals; panels never import torch, core.training or core.cli."""
