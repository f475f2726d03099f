"""Music: decode a song, find its tempo and beats, place keyframes on them, drive reactions, mux it.

    from interpolate.audio import analyze, plan_keys
    a = analyze("song.mp3", start=0, seconds=20)        # tempo, beats, downbeats (numpy/scipy only)
    plan = plan_keys(a, fps=30, beats_per_key=4)        # keyframe frame indices, frames per transition
"""

from .analysis import Analysis, analyze
from .decode import SAMPLE_RATE, Song, read_song

__all__ = ["Analysis", "analyze", "Song", "read_song", "SAMPLE_RATE"]
