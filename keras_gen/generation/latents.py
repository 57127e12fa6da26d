"""Latents to look at a model with: z ~ N(0, I) samples, slerp (White 2016, "Sampling
Generative Networks") and linear paths, smooth looping walks. numpy float32, seeded."""

import numpy as np

INTERPOLATIONS = ("slerp", "linear")


def gaussian(count, latent_dim, seed, truncation=0.0):
  """z ~ N(0, I), float32 [count, latent_dim]; truncation > 0 redraws components beyond it
  (BigGAN's truncation trick, Brock et al. 2019)."""
  rng = np.random.default_rng(seed)
  z = rng.standard_normal([count, latent_dim])
  while truncation > 0 and (outside := np.abs(z) > truncation).any():
    z[outside] = rng.standard_normal(int(outside.sum()))
  return z.astype(np.float32)


def nonfinite_rows(z):
  """Indices of the rows of z [K, d] holding a NaN or an infinity."""
  return np.flatnonzero(~np.isfinite(np.asarray(z)).all(axis=-1)).tolist()


def lerp(a, b, t):
  """(1 - t) a + t b for a, b [..., d] and t broadcastable to [..., 1]."""
  return ((1.0 - t) * a + t * b).astype(np.float32)


def slerp(a, b, t):
  """float32 [..., d] from a to b (exact at t = 0, 1; t in [0, 1] broadcastable to [..., 1]):
  direction along the great circle, norm linear in t; parallel directions fall back to linear."""
  a, b, t = (np.asarray(value, np.float64) for value in (a, b, t))
  norm_a, norm_b = (np.linalg.norm(value, axis=-1, keepdims=True) for value in (a, b))
  unit_a, unit_b = a / np.maximum(norm_a, 1e-12), b / np.maximum(norm_b, 1e-12)
  omega = np.arccos(np.clip(np.sum(unit_a * unit_b, axis=-1, keepdims=True), -1.0, 1.0))
  sine = np.sin(omega)
  degenerate = sine < 1e-6
  safe_sine = np.where(degenerate, 1.0, sine)
  direction = np.where(
      degenerate, lerp(unit_a, unit_b, t),
      (np.sin((1.0 - t) * omega) * unit_a + np.sin(t * omega) * unit_b) / safe_sine)
  direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-12)
  path = direction * ((1.0 - t) * norm_a + t * norm_b)
  path = np.where(t <= 0.0, a, np.where(t >= 1.0, b, path))
  return path.astype(np.float32)


def interpolate(a, b, steps, method="slerp"):
  """float32 [N, steps, d] paths from a [N, d] to b [N, d], both ends exact; steps >= 2."""
  if method not in INTERPOLATIONS:
    raise ValueError(f"Interpolation {method!r} is not one of {', '.join(INTERPOLATIONS)}.")
  t = np.linspace(0.0, 1.0, steps)[None, :, None]
  function = slerp if method == "slerp" else lerp
  return function(np.asarray(a)[:, None, :], np.asarray(b)[:, None, :], t)


def smooth_walk(frames, count, latent_dim, seed, sigma_frames):
  """float32 [frames, count, latent_dim]: looping walks, as in the Progressive GAN video; noise
  blurred by a circular Gaussian of sigma_frames, each z rescaled to norm sqrt(latent_dim)."""
  noise = np.random.default_rng(seed).standard_normal([frames, count, latent_dim])
  offsets = np.minimum(np.arange(frames), frames - np.arange(frames))  # Circular distance.
  kernel = np.exp(-0.5 * np.square(offsets / max(sigma_frames, 1e-6)))
  blurred = np.real(np.fft.ifft(np.fft.fft(noise, axis=0) *
                                np.fft.fft(kernel)[:, None, None], axis=0))
  norms = np.linalg.norm(blurred, axis=-1, keepdims=True)
  return (blurred / np.maximum(norms, 1e-12) * np.sqrt(latent_dim)).astype(np.float32)


def keypoint_loop(keypoints, frames):
  """float32 [frames, ...]: a closed tour through keypoints [K, ...] from keypoint 0, linear
  between neighbours and eased with a cosine."""
  keypoints = np.asarray(keypoints, np.float32)
  count = len(keypoints)
  position = np.arange(frames) * count / frames
  segment = np.floor(position).astype(np.int64)
  fraction = position - segment
  eased = (0.5 - 0.5 * np.cos(np.pi * fraction)).reshape([-1] + [1] * (keypoints.ndim - 1))
  return lerp(keypoints[segment % count], keypoints[(segment + 1) % count], eased)
