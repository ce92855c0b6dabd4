"""The main window and its actions: it builds the panels, registers them, and turns actions into calls on the model and the session."""
