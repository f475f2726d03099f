"""Music: decode a song, find its tempo and beats, place keyframes on them, drive reactions, mux it.

    from interpolate.audio import analyze, plan_keys
    a = analyze("song.mp3", start=0, seconds=20)        # tempo, beats, downbeats (numpy/scipy only)
    plan = plan_keys(a, fps=30, beats_per_key=4)        # keyframe frame indices, frames per transition
    spec = PathSpec(timing=Timing(fps=30, key_timing=plan.timing))     # paths.spec: keys on those frames
"""

from .analysis import Analysis, analyze
from .decode import SAMPLE_RATE, Song, read_song
from .plan import KeyPlan, plan_keys

__all__ = ["Analysis", "analyze", "KeyPlan", "plan_keys", "Song", "read_song", "SAMPLE_RATE"]
