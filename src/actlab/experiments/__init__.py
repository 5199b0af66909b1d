"""The article's experiments, each returning a plain, JSON-serialisable result dataclass."""
