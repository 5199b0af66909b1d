"""``actlab play``: the interactive playground (see README, "The playground").

    settings.py  TensorFlow Playground's URL-hash keys and actlab's, validated
    data.py      its datasets, features, train/test split, CSV uploads
    engine.py    S networks trained at once, snapshots (computation only)
    session.py   one page's state and messages, binary frames (no web framework)
    server.py    Starlette + uvicorn: the page, the WebSocket, exports
    _widget.py   ``widget()``: the same page and engine as a notebook widget (anywidget, the comm)
    static/      the page: HTML, CSS and plain JavaScript with canvas (js/: ES modules by concern,
                 no build step; server text is set as text, never parsed as HTML)
"""

__all__ = ["widget"]


def __getattr__(name: str):
    if name == "widget":  # imported on use: anywidget and the server are not needed to import actlab.play
        from ._widget import widget

        return widget
    raise AttributeError(f"module 'actlab.play' has no attribute {name!r}")
