"""The background daemon and the commands that control it."""
