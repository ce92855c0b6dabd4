"""Dialogs that ask a person something and return plain values."""
