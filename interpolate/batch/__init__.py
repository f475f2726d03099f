"""Reels and batch renders, above render/ (which never imports this package).

    reel.py        a sequence of segments rendered into one video, the path continuing through joins
    jobs.py        batch job files (TOML / CSV), sharding, resume checks
    runner.py      renders jobs with each checkpoint loaded once, failures isolated, a summary table
    ray_runner.py  the same jobs on a Ray cluster (optional extra: pip install waifu-morph[ray])
    render_api.py  the few calls batch/ makes into the loader and the renderer

Presets and their layering under typed flags are an options concern: interpolate/presets.py.
"""
