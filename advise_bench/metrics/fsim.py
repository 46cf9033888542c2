"""FSIM / FSIMc (Zhang, Zhang, Mou & Zhang, IEEE TIP 2011) in NumPy.

This follows the authors' MATLAB reference ``FeatureSIM.m`` (with the ``phasecong2`` and
``lowpassfilter`` helpers it ships, both by Peter Kovesi) step by step:

1. RGB -> YIQ with the constants of ``FeatureSIM.m``
   (Y = .299 R + .587 G + .114 B, I = .596 R - .274 G - .322 B, Q = .211 R - .523 G + .312 B).
2. Downsampling by ``F = max(1, round(min(H, W) / 256))``: ``conv2(X, fspecial('average', F), 'same')``
   (zero padded) followed by ``X(1:F:end, 1:F:end)``, applied to Y, I and Q. For F = 2 and even sizes
   this is a 2x2 block mean; for odd sizes or F >= 3 the zero padding darkens the first or last
   row/column, exactly as in MATLAB (so a flat image larger than ~640 px is no longer flat there).
3. Phase congruency of Y (Kovesi's ``phasecong2`` as embedded in ``FeatureSIM.m``): 4 scales,
   4 orientations, min wavelength 6, mult 2, sigmaOnf 0.55, dThetaOnSigma 1.2, k 2, epsilon 1e-4,
   log-Gabor filters built in the frequency domain and multiplied by the Butterworth low-pass
   filter (cutoff .45, order 15), noise threshold estimated per orientation from the median of
   the squared smallest-scale response (Rayleigh model, divided by 1.7).
   The returned map is ``EnergyAll ./ AnAll = sum_o Energy_o / sum_o sum_s An_so``; as in FeatureSIM.m,
   no epsilon enters this division (epsilon 1e-4 only guards XEnergy, the norm of the mean response).
4. Gradient magnitude with the Scharr kernels ``[3 0 -3; 10 0 -10; 3 0 -3] / 16`` (``conv2 'same'``).
5. ``S_PC = (2 PC1 PC2 + T1) / (PC1^2 + PC2^2 + T1)``, ``S_G`` likewise with T2, ``PCm = max(PC1, PC2)``,
   ``FSIM = sum(S_PC S_G PCm) / sum(PCm)`` and
   ``FSIMc = sum(S_PC S_G real((S_I S_Q)^lambda) PCm) / sum(PCm)`` with T1=0.85, T2=160, T3=T4=200,
   lambda=0.03. ``real(z^lambda)`` for a negative real ``z`` is ``|z|^lambda cos(lambda pi)``, as in
   MATLAB's complex power.

Deviations from the MATLAB code, all confined to cases where MATLAB returns NaN:

* A luminance plane that is constant (after downsampling) has no AC spectrum, so every filter
  response is mathematically zero; its phase-congruency map is defined as exactly 0 (MATLAB computes
  0/0 there, or round-off noise divided by round-off noise).
* Pixels where the summed amplitude is exactly 0 get PC = 0 (MATLAB: NaN).
* When ``sum(PCm) == 0`` (neither image has any phase structure, e.g. both flat or black, or an
  explanation mask that kept nothing), MATLAB returns NaN. Here FSIM = FSIMc = 0.0 (nothing
  in common can be measured: the explanation kept nothing), except when the two images are
  identical, where both are 1.0 so that FSIM(x, x) == 1 holds for every x.
  This is the only special case; no NaN is ever returned.

Identical inputs give exactly 1.0 without any short-circuit: both phase-congruency maps come out of
the same batched computation bit for bit, ``(2ab + T) / (a^2 + b^2 + T)`` is exactly 1 for ``a == b``
in IEEE arithmetic, and the numerator and denominator sums are the same reduction over the same
values.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft

__all__ = ["fsim", "fsim_pair", "fsimc", "downsample_factor", "phase_congruency"]

# Phase congruency parameters (phasecong2 in FeatureSIM.m).
_NSCALE = 4
_NORIENT = 4
_MIN_WAVELENGTH = 6
_MULT = 2
_SIGMA_ON_F = 0.55
_D_THETA_ON_SIGMA = 1.2
_K = 2.0
_EPSILON = 1e-4
_LP_CUTOFF = 0.45
_LP_ORDER = 15

# FSIM constants.
_T1 = 0.85
_T2 = 160.0
_T3 = 200.0
_T4 = 200.0
_LAMBDA = 0.03

# RGB -> YIQ rows exactly as in FeatureSIM.m.
_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.596, -0.274, -0.322],
        [0.211, -0.523, 0.312],
    ]
)

_FFT_WORKERS = 2


def downsample_factor(height: int, width: int) -> int:
    """MATLAB's ``F = max(1, round(min(rows, cols) / 256))`` (MATLAB rounds halves away from zero)."""
    return max(1, int(math.floor(min(height, width) / 256 + 0.5)))


def _matlab_downsample(x: np.ndarray, f: int) -> np.ndarray:
    """``conv2(x, ones(f)/f^2, 'same')`` then ``x(1:f:end, 1:f:end)`` on the last two axes.

    For output index j along an axis, MATLAB's 'same' window for an even or odd kernel of size f
    covers input positions ``j*f + floor(f/2) - f + 1 .. j*f + floor(f/2)`` (0-based), zero padded.
    """
    if f == 1:
        return x
    lo = f - 1 - f // 2  # number of zeros needed before the first sample's window
    for axis in (-2, -1):
        n = x.shape[axis]
        n_out = -(-n // f)  # ceil(n / f): MATLAB's 1:f:n
        hi = max(0, n_out * f - lo - n)
        pad = [(0, 0)] * x.ndim
        pad[axis] = (lo, hi)
        xp = np.pad(x, pad)
        acc = None
        for t in range(f):
            sl = [slice(None)] * x.ndim
            sl[axis] = slice(t, t + n_out * f, f)
            part = xp[tuple(sl)]
            acc = part.copy() if acc is None else acc + part
        x = acc
    return x / (f * f)


def _centred_range(n: int) -> np.ndarray:
    """Frequency coordinates normalised to +/- 0.5 as in phasecong2/lowpassfilter."""
    if n % 2:
        return (np.arange(n) - (n - 1) / 2) / (n - 1)
    return (np.arange(n) - n / 2) / n


@functools.lru_cache(maxsize=16)
def _filter_bank(rows: int, cols: int):
    """Log-Gabor filter bank and the noise-model constants for one image shape (read-only arrays).

    Returns ``(filters, em_n, sum_an2, sum_ai_aj)``: filters of shape (norient, nscale, rows, cols)
    in FFT layout (zero frequency at [0, 0]), and per orientation the sum of the squared smallest-scale
    filter and the sums ``sum(sum_s ifft_s^2)`` and ``sum(sum_{i<j} ifft_i ifft_j)`` of the spatial
    filters ``real(ifft2(filter)) * sqrt(rows*cols)``.
    """
    x, y = np.meshgrid(_centred_range(cols), _centred_range(rows))
    radius = np.sqrt(x**2 + y**2)
    theta = np.arctan2(-y, x)

    lowpass = np.fft.ifftshift(1.0 / (1.0 + (radius / _LP_CUTOFF) ** (2 * _LP_ORDER)))

    radius = np.fft.ifftshift(radius)
    theta = np.fft.ifftshift(theta)
    radius[0, 0] = 1.0
    sintheta = np.sin(theta)
    costheta = np.cos(theta)

    log_gabor = np.empty((_NSCALE, rows, cols))
    for s in range(_NSCALE):
        fo = 1.0 / (_MIN_WAVELENGTH * _MULT**s)
        lg = np.exp(-(np.log(radius / fo) ** 2) / (2 * math.log(_SIGMA_ON_F) ** 2))
        lg *= lowpass
        lg[0, 0] = 0.0
        log_gabor[s] = lg

    theta_sigma = math.pi / _NORIENT / _D_THETA_ON_SIGMA
    spread = np.empty((_NORIENT, rows, cols))
    for o in range(_NORIENT):
        angl = o * math.pi / _NORIENT
        ds = sintheta * math.cos(angl) - costheta * math.sin(angl)
        dc = costheta * math.cos(angl) + sintheta * math.sin(angl)
        dtheta = np.abs(np.arctan2(ds, dc))
        spread[o] = np.exp(-(dtheta**2) / (2 * theta_sigma**2))

    filters = spread[:, None] * log_gabor[None, :]  # (O, S, rows, cols)

    em_n = np.sum(filters[:, 0] ** 2, axis=(-2, -1))
    spatial = np.fft.ifft2(filters).real * math.sqrt(rows * cols)
    sum_an2 = np.sum(np.sum(spatial**2, axis=1), axis=(-2, -1))
    ai_aj = np.zeros((_NORIENT, rows, cols))
    for si in range(_NSCALE - 1):
        for sj in range(si + 1, _NSCALE):
            ai_aj += spatial[:, si] * spatial[:, sj]
    sum_ai_aj = np.sum(ai_aj, axis=(-2, -1))

    for a in (filters, em_n, sum_an2, sum_ai_aj):
        a.flags.writeable = False
    return filters, em_n, sum_an2, sum_ai_aj


def phase_congruency(images: np.ndarray) -> np.ndarray:
    """Kovesi's phasecong2 (FeatureSIM.m variant) for a batch of greyscale images (B, H, W) -> (B, H, W).

    A constant image gets an all-zero map; pixels whose summed amplitude is exactly 0 get 0.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        return phase_congruency(images[None])[0]
    b, rows, cols = images.shape
    filters, em_n, sum_an2, sum_ai_aj = _filter_bank(rows, cols)

    spectrum = scipy.fft.fft2(images, workers=_FFT_WORKERS)  # imagefft, (B, H, W)
    n = rows * cols
    mid = n // 2
    energy_all = np.zeros((b, rows, cols))
    an_all = np.zeros((b, rows, cols))
    # One orientation at a time keeps the working arrays small enough (about 13 MB at 224x224) to be
    # reused by the allocator instead of being mapped and zeroed afresh on every call.
    for o in range(_NORIENT):
        # EO{s,o} = ifft2(imagefft .* filter) for both images and every scale at once: (B, S, H, W).
        eo = scipy.fft.ifft2(spectrum[:, None] * filters[o][None], overwrite_x=True, workers=_FFT_WORKERS)
        even = eo.real
        odd = eo.imag

        amplitude = np.abs(eo)  # An
        an_all += amplitude.sum(axis=1)  # AnAll += sumAn_ThisOrient
        sum_eo = eo.sum(axis=1)  # sumE_ThisOrient + i sumO_ThisOrient
        sum_e = sum_eo.real
        sum_o = sum_eo.imag
        x_energy = np.sqrt(sum_e**2 + sum_o**2) + _EPSILON
        mean_e = sum_e / x_energy
        mean_o = sum_o / x_energy

        # Energy = sum_s E_s MeanE + O_s MeanO - |E_s MeanO - O_s MeanE|. The first two terms summed over
        # the scales are sumE MeanE + sumO MeanO; only the absolute value needs every scale.
        energy = sum_e * mean_e + sum_o * mean_o
        tmp = np.empty_like(energy)
        tmp2 = np.empty_like(energy)
        for s in range(_NSCALE):
            np.multiply(even[:, s], mean_o, out=tmp)
            np.multiply(odd[:, s], mean_e, out=tmp2)
            tmp -= tmp2
            np.abs(tmp, out=tmp)
            energy -= tmp

        # Noise compensation from the smallest scale: MATLAB's median(abs(EO{1,o}).^2) (the mean of the
        # two middle values for an even count), from order statistics of An (squaring keeps the order).
        small = amplitude[:, 0].reshape(b, n)
        if n % 2:
            median_e2n = np.partition(small, mid, axis=-1)[:, mid] ** 2
        else:
            part = np.partition(small, [mid - 1, mid], axis=-1)
            median_e2n = (part[:, mid - 1] ** 2 + part[:, mid] ** 2) / 2
        mean_e2n = -median_e2n / math.log(0.5)
        noise_power = mean_e2n / em_n[o]  # (B,)
        est_noise_energy2 = 2 * noise_power * sum_an2[o] + 4 * noise_power * sum_ai_aj[o]
        tau = np.sqrt(est_noise_energy2 / 2)  # Rayleigh parameter
        est_noise_energy = tau * math.sqrt(math.pi / 2)  # expected value of the noise energy
        est_noise_energy_sigma = np.sqrt((2 - math.pi / 2) * tau**2)
        # Noise threshold, rescaled by 1/1.7 for the PC_2 measure as in phasecong2.
        threshold = (est_noise_energy + _K * est_noise_energy_sigma) / 1.7

        energy -= threshold[:, None, None]
        np.maximum(energy, 0.0, out=energy)
        energy_all += energy

    pc = np.zeros_like(energy_all)
    np.divide(energy_all, an_all, out=pc, where=an_all > 0)
    flat = np.ptp(images.reshape(b, -1), axis=1) == 0
    pc[flat] = 0.0
    return pc


def _to_planes(image) -> tuple[np.ndarray, bool]:
    """float64 (C, H, W) planes: YIQ for RGB (C=3), luminance only for greyscale (C=1)."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return a.astype(np.float64)[None], False
    if a.ndim == 3 and a.shape[-1] == 3:
        a = a.astype(np.float64)
        r, g, b = a[..., 0], a[..., 1], a[..., 2]
        planes = np.stack([c[0] * r + c[1] * g + c[2] * b for c in _YIQ])
        return planes, True
    raise ValueError(f"expected an HxW or HxWx3 image, got shape {a.shape}")


def _similarity(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    # Exactly 1 wherever a == b: 2*a*b == a*a + b*b bit for bit.
    return (2 * a * b + t) / (a * a + b * b + t)


def _gradient_magnitude(y: np.ndarray) -> np.ndarray:
    """|conv2(Y, dx, 'same'), conv2(Y, dy, 'same')| with the Scharr kernels of FeatureSIM.m, zero padded."""
    p = np.pad(y, [(0, 0), (1, 1), (1, 1)])
    dxr = p[:, :, 2:] - p[:, :, :-2]  # horizontal central difference, rows still padded
    gx = (3 * dxr[:, :-2] + 10 * dxr[:, 1:-1] + 3 * dxr[:, 2:]) / 16
    dyc = p[:, 2:, :] - p[:, :-2, :]  # vertical central difference, columns still padded
    gy = (3 * dyc[:, :, :-2] + 10 * dyc[:, :, 1:-1] + 3 * dyc[:, :, 2:]) / 16
    return np.sqrt(gx * gx + gy * gy)


def fsim_pair(reference, distorted) -> tuple[float, float]:
    """(FSIM, FSIMc) of two images as in the authors' FeatureSIM.m.

    Inputs are uint8 or float images in 0..255, HxWx3 RGB or HxW greyscale, of the same shape.
    For greyscale input FSIMc equals FSIM.

    When neither image has any phase structure (``sum(max(PC1, PC2)) == 0``, e.g. two flat or black
    images) MATLAB returns NaN; here both scores are 0.0 (nothing was kept to compare), unless the two
    images are identical, in which case both are 1.0. No NaN is ever returned. An all-black image
    against a structured one is computed normally (its PC map is 0, so PCm is the other image's PC)
    and gives a finite score in [0, 1].
    """
    ref_planes, ref_colour = _to_planes(reference)
    dis_planes, dis_colour = _to_planes(distorted)
    if ref_planes.shape != dis_planes.shape:
        raise ValueError(f"image shapes differ: {np.shape(reference)} vs {np.shape(distorted)}")
    rows, cols = ref_planes.shape[-2:]
    if min(rows, cols) < 2:
        raise ValueError(f"images must be at least 2x2, got {rows}x{cols}")

    f = downsample_factor(rows, cols)
    planes = _matlab_downsample(np.stack([ref_planes, dis_planes]), f)  # (2, C, h, w)

    lum = planes[:, 0]
    pc = phase_congruency(lum)
    grad = _gradient_magnitude(lum)

    pc1, pc2 = pc[0], pc[1]
    pcm = np.maximum(pc1, pc2)
    denom = pcm.sum()
    if denom == 0:
        same = np.array_equal(np.asarray(reference), np.asarray(distorted))
        value = 1.0 if same else 0.0
        return value, value

    sim = _similarity(grad[0], grad[1], _T2) * _similarity(pc1, pc2, _T1)
    score = float((sim * pcm).sum() / denom)

    if ref_colour:
        s_iq = _similarity(planes[0, 1], planes[1, 1], _T3) * _similarity(planes[0, 2], planes[1, 2], _T4)
        # real(z ** lambda) as MATLAB's complex power: |z|^lambda * cos(lambda*pi) for z < 0.
        chroma = np.abs(s_iq) ** _LAMBDA
        chroma = np.where(s_iq < 0, chroma * math.cos(_LAMBDA * math.pi), chroma)
        score_c = float((sim * chroma * pcm).sum() / denom)
    else:
        score_c = score
    return score, score_c


def fsim(reference, distorted) -> float:
    """FSIM (luminance only) of two images; see :func:`fsim_pair` for inputs and the no-structure rule."""
    return fsim_pair(reference, distorted)[0]


def fsimc(reference, distorted) -> float:
    """FSIMc (with the YIQ chroma term) of two images; equals FSIM for greyscale inputs.

    See :func:`fsim_pair` for inputs and the no-structure rule.
    """
    return fsim_pair(reference, distorted)[1]
