"""Presets, reels and batch renders.

    presets.py     named TOML recipes of RenderOptions fields (shipped, user folder, any path)
    reel.py        a sequence of segments rendered into one video, the path continuing through joins
    jobs.py        batch job files (TOML / CSV), sharding, resume checks
    runner.py      renders jobs with each checkpoint loaded once, failures isolated, a summary table
    ray_runner.py  the same jobs on a Ray cluster (optional extra: pip install waifu-morph[ray])
"""
