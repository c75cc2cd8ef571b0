"""Tensor operations of the GPU path: every crop, warp and mirror as one ``affine_grid`` over
the batch and a ``grid_sample`` per image, then the HLS jitter and normalisation batched.
Same geometry and formulas as the CPU loader (:mod:`~icformat.loader.augment`,
:mod:`~icformat.loader.color`); PyTorch is imported only when these run."""
from __future__ import annotations

import numpy as np

from .augment import scale_matrix
from .color import LIMITS, SECTORS


def render_batch(items: list, prep, device):
    """Crop, warp, mirror, jitter and normalise decoded images (``item.decoded``, ``C x H x W``
    uint8 tensors) into one ``N x C x H x W`` batch, following each ``item.plan``."""
    import torch
    import torch.nn.functional as F

    out_h, out_w = prep.height, prep.width
    n, c = len(items), prep.channels
    thetas, sources, fills = [], [], []
    for it in items:
        image = it.decoded.float()
        if image.shape[0] != c:
            image = image[:c] if image.shape[0] > c else image.expand(c, -1, -1)
        frame_h, frame_w = it.plan.frame
        in_h, in_w = image.shape[1], image.shape[2]
        matrix = scale_matrix(it.plan.matrix, in_w / frame_w, in_h / frame_h)
        # bilinear sampling aliases beyond a 2x reduction: average-pool first, as DCT scaling does on the CPU
        k = int(min(in_w / frame_w, in_h / frame_h))
        if k >= 2:
            image = F.avg_pool2d(image[None], k, ceil_mode=True)[0]
            matrix = tuple(v / k for v in matrix)
            in_h, in_w = image.shape[1], image.shape[2]
        thetas.append(theta(matrix, in_h, in_w, out_h, out_w, it.plan.flip))
        sources.append(image)
        fills.append(not it.plan.axis_aligned)
    params = torch.tensor(np.asarray(thetas), dtype=torch.float32, device=device)
    grid = F.affine_grid(params, (n, c, out_h, out_w), align_corners=False)
    out = torch.empty((n, c, out_h, out_w), dtype=torch.float32, device=device)
    fill = float(prep.augment.fill_value)
    for i, image in enumerate(sources):
        g = grid[i : i + 1]
        if fills[i]:
            sampled = F.grid_sample(image[None], g, mode="bilinear", padding_mode="zeros", align_corners=False)
            ones = torch.ones((1, 1, *image.shape[1:]), device=device)
            mask = F.grid_sample(ones, g, mode="bilinear", padding_mode="zeros", align_corners=False)
            out[i] = (sampled + (1 - mask) * fill)[0]
        else:
            out[i] = F.grid_sample(image[None], g, mode="bilinear", padding_mode="border", align_corners=False)[0]
    offsets = [it.plan.hls for it in items]
    if c == 3 and any(o is not None for o in offsets):
        out = jitter_hls(out, [o or (0, 0, 0) for o in offsets], [o is not None for o in offsets])
    if prep.dtype == "uint8":
        return out.round_().clamp_(0, 255).to(torch.uint8)
    if prep.mean is not None:
        out -= torch.tensor(prep.mean, device=device).view(c, 1, 1)
    if prep.std is not None:
        out /= torch.tensor(prep.std, device=device).view(c, 1, 1)
    return out



def to_device(array: np.ndarray, device):
    import torch

    return torch.from_numpy(array).permute(2, 0, 1).to(device)


def theta(matrix, in_h: int, in_w: int, out_h: int, out_w: int, flip: bool) -> list:
    """``affine_grid`` parameters (normalised output -> normalised input, ``align_corners=False``)
    for a map of continuous pixel coordinates ``x = a*u + b*v + c``, ``y = d*u + e*v + f``."""
    a, b, c, d, e, f = matrix
    row0 = [a * out_w / in_w, b * out_h / in_w, (a * out_w + b * out_h + 2 * c) / in_w - 1]
    row1 = [d * out_w / in_h, e * out_h / in_h, (d * out_w + e * out_h + 2 * f) / in_h - 1]
    if flip:  # output column u reads where column W-1-u would: mirror the normalised x
        row0[0], row1[0] = -row0[0], -row1[0]
    return [row0, row1]


def jitter_hls(images, offsets: list, active: list):
    """The CPU loader's HLS jitter on ``N x 3 x H x W`` float tensors (0-255), per-sample offsets;
    samples with ``active`` False are left alone."""
    import torch

    device = images.device
    x = images.clamp(0, 255) / 255
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    vmax, _ = x.max(1)
    vmin, _ = x.min(1)
    diff = vmax - vmin
    total = vmax + vmin
    light = total / 2
    gray = diff <= 1e-7
    safe = torch.where(gray, torch.ones_like(diff), diff)
    sat = torch.where(light < 0.5, diff / torch.where(gray, torch.ones_like(total), total),
                      diff / torch.where(gray, torch.ones_like(total), 2 - total))
    hue = torch.where(vmax == r, (g - b) / safe * 60,
                      torch.where(vmax == g, (b - r) / safe * 60 + 120, (r - g) / safe * 60 + 240))
    hue = torch.where(hue < 0, hue + 360, hue)
    hue = torch.where(gray, torch.zeros_like(hue), hue)
    sat = torch.where(gray, torch.zeros_like(sat), sat)
    off = torch.tensor(offsets, dtype=torch.float32, device=device).view(-1, 3, 1, 1)
    hue_max, light_max, sat_max = LIMITS.tolist()
    hue = (hue / 2 + off[:, 0]).clamp(0, hue_max) * 2 / 60  # OpenCV 8-bit hue units, clamped like MXNet
    light = (light * 255 + off[:, 1]).clamp(0, light_max) / 255
    sat = (sat * 255 + off[:, 2]).clamp(0, sat_max) / 255
    p2 = torch.where(light <= 0.5, light * (1 + sat), light + sat - light * sat)
    p1 = 2 * light - p2
    hue = torch.where(hue >= 6, hue - 6, hue)
    sector = hue.floor().long().clamp(0, 5)
    frac = hue - sector
    table = torch.stack([p2, p1, p1 + (p2 - p1) * (1 - frac), p1 + (p2 - p1) * frac], 1)
    order = torch.as_tensor(SECTORS, dtype=torch.long, device=device)
    picks = order[sector]  # N x H x W x 3, columns (b, g, r)
    bgr = torch.gather(table, 1, picks.permute(0, 3, 1, 2))
    rgb = torch.where((sat == 0)[:, None], light[:, None].expand(-1, 3, -1, -1), bgr.flip(1)) * 255
    keep = torch.tensor(active, device=device).view(-1, 1, 1, 1)
    return torch.where(keep, rgb, images)
