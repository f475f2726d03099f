"""waifu-morph studio: a local web page to find seeds, build and scrub a morph, mix styles and render.

    waifu-morph studio [CKPT] [--port N] [--workdir DIR] [--no-browser] [--host H]

An optional extra (`pip install 'waifu-morph[studio]'`: Starlette on uvicorn). The modules:

    engine.py     the one adapter to paths/ and render/ (plans, frames, seeds, figures, renders, recipes)
    app.py        the HTTP API and the page (static/: plain HTML, CSS and JS, no build step, no CDN)
    security.py   host, token and write checks on every request; file names confined to the work folder
    slots.py      the latest-wins frame slot and the one-render-at-a-time line
    server.py     binding the port, printing and opening the URL, serving
"""
