"""Rendering: stills (render/stills.py) and videos."""
