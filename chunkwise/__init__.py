"""chunkwise: turn folders of documents into retrieval-ready chunks."""

__version__ = "0.1.0"
