"""`scratchcnn serve`: a web page and a JSON API that classify samples with a Network and show its feature maps.

    from scratchcnn.serve import create_app, serve
    serve(create_app(network), host="127.0.0.1", port=8000)

Needs the `serve` extra: pip install "scratchcnn[serve]".
"""
from .app import create_app
from .server import ServerThread, serve

__all__ = ["create_app", "serve", "ServerThread"]
