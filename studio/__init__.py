"""The PySide6 desktop app. Imports core; core never imports this."""
