"""Colour-vision-deficiency simulation and colour differences, in NumPy.

- ``simulate(hex_colours, kind)``: Machado, Oliveira & Fernandes (2009),
  "A physiologically-based model for simulation of color vision
  deficiency", IEEE TVCG 15(6), their matrices at severity 1.0
  (protanopia, deuteranopia, tritanopia), applied to linear-light sRGB and
  clipped to the gamut, as the paper does.
- ``lab``: sRGB → CIE XYZ (D65) → CIE L*a*b*.
- ``delta_e_2000``: CIEDE2000 (Sharma, Wu & Dalal 2005, the formula as
  written there, with k_L = k_C = k_H = 1).
"""

from __future__ import annotations

import numpy as np

MACHADO_2009 = {
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritanopia": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
WHITE_D65 = SRGB_TO_XYZ @ np.ones(3)


def rgb(hex_colours) -> np.ndarray:
    """(N, 3) sRGB in 0 … 1 from "#RRGGBB" strings."""
    return np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in hex_colours])


def linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def gamma(light: np.ndarray) -> np.ndarray:
    return np.where(light <= 0.0031308, 12.92 * light, 1.055 * light ** (1 / 2.4) - 0.055)


def simulate(hex_colours, kind: str) -> np.ndarray:
    """(N, 3) sRGB as seen with ``kind`` (a key of MACHADO_2009)."""
    seen = linear(rgb(hex_colours)) @ MACHADO_2009[kind].T
    return gamma(np.clip(seen, 0.0, 1.0))


def lab(srgb: np.ndarray) -> np.ndarray:
    """(N, 3) CIE L*a*b* (D65) of (N, 3) sRGB in 0 … 1."""
    xyz = linear(srgb) @ SRGB_TO_XYZ.T / WHITE_D65
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def delta_e_2000(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CIEDE2000 between rows of two (N, 3) L*a*b* arrays."""
    L1, a1, b1 = first.T
    L2, a2, b2 = second.T
    C_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    G = 0.5 * (1 - np.sqrt(C_mean**7 / (C_mean**7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp, dCp = L2 - L1, C2p - C1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(C1p * C2p == 0, 0.0, dh)
    dHp = 2 * np.sqrt(C1p * C2p) * np.sin(np.radians(dh / 2))
    Lp_mean, Cp_mean = (L1 + L2) / 2, (C1p + C2p) / 2
    h_sum = h1p + h2p
    hp_mean = np.where(
        np.abs(h1p - h2p) <= 180,
        h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    hp_mean = np.where(C1p * C2p == 0, h_sum, hp_mean)
    T = (
        1
        - 0.17 * np.cos(np.radians(hp_mean - 30))
        + 0.24 * np.cos(np.radians(2 * hp_mean))
        + 0.32 * np.cos(np.radians(3 * hp_mean + 6))
        - 0.20 * np.cos(np.radians(4 * hp_mean - 63))
    )
    d_theta = 30 * np.exp(-(((hp_mean - 275) / 25) ** 2))
    R_C = 2 * np.sqrt(Cp_mean**7 / (Cp_mean**7 + 25.0**7))
    S_L = 1 + 0.015 * (Lp_mean - 50) ** 2 / np.sqrt(20 + (Lp_mean - 50) ** 2)
    S_C = 1 + 0.045 * Cp_mean
    S_H = 1 + 0.015 * Cp_mean * T
    R_T = -np.sin(np.radians(2 * d_theta)) * R_C
    return np.sqrt(
        (dLp / S_L) ** 2 + (dCp / S_C) ** 2 + (dHp / S_H) ** 2 + R_T * (dCp / S_C) * (dHp / S_H)
    )


def closest_pair(hex_colours, kind: str | None = None) -> tuple[float, tuple[int, int]]:
    """The smallest CIEDE2000 between any two of ``hex_colours`` (as seen
    with ``kind``, or with normal vision for None) and which two."""
    seen = rgb(hex_colours) if kind is None else simulate(hex_colours, kind)
    points = lab(seen)
    n = len(points)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    first = np.array([points[i] for i, _ in pairs])
    second = np.array([points[j] for _, j in pairs])
    distances = delta_e_2000(first, second)
    k = int(np.argmin(distances))
    return float(distances[k]), pairs[k]
