"""TensorFlow import without its start-up chatter."""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly():
    """Import TensorFlow with C-level stderr muted: TF 2.21 prints oneDNN/CUDA notices before its
    logging is initialised, which TF_CPP_MIN_LOG_LEVEL cannot silence."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tf
