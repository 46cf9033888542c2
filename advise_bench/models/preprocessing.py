"""Input preprocessing by name. Explainers receive RGB pixels in 0..255 and call these."""

from __future__ import annotations

import numpy as np

from ..errors import UserError

_TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def _caffe(x: np.ndarray) -> np.ndarray:
    """keras.applications' 'caffe' mode (VGG16, ResNet50): RGB->BGR, subtract the ImageNet mean."""
    return x[..., ::-1] - _CAFFE_MEAN_BGR


def _tf(x: np.ndarray) -> np.ndarray:
    """'tf' mode (Xception, MobileNets): scale to [-1, 1]."""
    return x / 127.5 - 1.0


def _torch(x: np.ndarray) -> np.ndarray:
    """torchvision models (AlexNet): [0, 1] then ImageNet mean/std."""
    return (x / 255.0 - _TORCH_MEAN) / _TORCH_STD


def _none(x: np.ndarray) -> np.ndarray:
    return x


PREPROCESSORS = {"caffe": _caffe, "tf": _tf, "torch": _torch, "none": _none}


def get_preprocessor(name: str):
    try:
        fn = PREPROCESSORS[name]
    except KeyError:
        raise UserError(f"unknown preprocessing {name!r}; choose one of {', '.join(PREPROCESSORS)}") from None

    def preprocess(images: np.ndarray) -> np.ndarray:
        return fn(np.asarray(images, dtype=np.float32)).astype(np.float32, copy=False)

    preprocess.__name__ = f"preprocess_{name}"
    return preprocess
