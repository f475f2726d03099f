"""StyleGAN3's frequency schedule and filter design (the numbers a freshly built generator starts from).

  frequency_schedule      per layer 0..num_layers: cutoff, minimum stopband, sampling rate, transition
                          half width, size and channels (the geometric schedule of Karras et al. 2021,
                          sec. 3.2 / Appendix F; the formula is in `stylegan3.py`'s docstring)
  LayerSpec               where one synthesis layer sits in that schedule (input and output side)
  design_lowpass_filter   the Kaiser-windowed low-pass FIR of a layer's up/down sampling: separable
                          sinc, or (config R) radially symmetric jinc

Only `stylegan3.py` builds with these; filters read from a checkpoint are used as stored.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class LayerSpec(NamedTuple):
    """Where one synthesis layer sits in the frequency schedule (official names, sec. 3.2 / Appendix F)."""
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR (None for a single tap): separable 1-D sinc [numtaps] (scipy's
    firwin), or radially symmetric 2-D jinc [numtaps, numtaps], windowed by the outer product of the
    same Kaiser window and normalized to unit DC gain."""
    assert numtaps >= 1
    if numtaps == 1:
        return None
    import scipy.signal
    import scipy.special

    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32)
    t = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(t, t))
    safe_r = np.where(r == 0, 1, r)
    f = np.where(r == 0, cutoff, scipy.special.j1(2 * np.pi * cutoff * safe_r) / (np.pi * safe_r))  # jinc, f(0) = f_c
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    window = np.kaiser(numtaps, beta)
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)


def frequency_schedule(img_resolution: int, img_channels: int, channel_base: int, channel_max: int, num_layers: int,
                       num_critical: int, first_cutoff: float, first_stopband: float, last_stopband_rel: float,
                       margin_size: int) -> dict[str, np.ndarray]:
    """Per layer 0..num_layers (float64, as the official code): cutoffs, stopbands, sampling_rates,
    half_widths, sizes, channels."""
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
    stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
    sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
    sizes = sampling_rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    return dict(cutoffs=cutoffs, stopbands=stopbands, sampling_rates=sampling_rates, half_widths=half_widths,
                sizes=sizes, channels=channels)
