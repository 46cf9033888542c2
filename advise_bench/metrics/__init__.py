"""Image-similarity metrics."""
