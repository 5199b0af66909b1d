"""``actlab play``: the interactive playground (see README, "The playground").

    settings.py  TensorFlow Playground's URL-hash keys and actlab's, validated
    data.py      its datasets, features, train/test split, CSV uploads
    engine.py    S networks trained at once, snapshots (computation only)
    session.py   one page's state and messages, binary frames (no web framework)
    server.py    Starlette + uvicorn: the page, the WebSocket, exports
    static/      the page: HTML, CSS and plain JavaScript with canvas (js/: ES modules by concern,
                 no build step; server text is set as text, never parsed as HTML)
"""
