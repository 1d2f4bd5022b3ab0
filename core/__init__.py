"""The bottom layer: settings and the error family, importable by every other package."""
