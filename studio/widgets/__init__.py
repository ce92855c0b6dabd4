"""Small widgets and input conventions shared by panels and dialogs."""
