"""Weighted 1-D Lloyd k-means, vectorised over many independent rows at once.

Every row of x [R, M] (one row-group of a weight matrix: R rows, M columns of the group) gets its own
`n_clusters` centroids; all rows share per-column weights [M] (the columns' importance) or have their
own [R, M]. In one dimension a cluster is a run of the sorted row, so each row is sorted once and an
iteration only needs, per row, the L-1 cut positions (a binary search of the midpoints between
centroids) and the cluster sums from prefix sums (float64, so cancellation cannot bite):

    xs [R, M] sorted row, cw / cwx [R, M+1] prefix sums of w and w*x
    cut[j]   = #{m : xs[m] <= (c[j-1] + c[j]) / 2}     cluster j = xs[cut[j] : cut[j+1]]
    c[j]    <- (cwx[cut[j+1]] - cwx[cut[j]]) / (cw[cut[j+1]] - cw[cut[j]])

That is O(L log M) per row per iteration instead of O(M). Init: weighted quantiles. An empty cluster
is re-seeded at its row's worst-served point, so a row with at most `n_clusters` distinct values ends
with zero error.
"""

from __future__ import annotations

import torch

ROW_CHUNK = 8192  # rows per vectorised call; bounds memory for 7B-sized layers


def nearest_centroid(x: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """x [R, M], centroids [R, L] sorted ascending -> int64 [R, M] index of the nearest centroid."""
    mid = (centroids[:, 1:] + centroids[:, :-1]) * 0.5  # [R, L-1] decision boundaries
    return torch.searchsorted(mid.contiguous(), x.contiguous())


def _quantile_init(cw: torch.Tensor, xs: torch.Tensor, n_clusters: int) -> torch.Tensor:
    """The values at weighted quantiles (j + 0.5) / L of each sorted row (cw: prefix sums, [R, M+1])."""
    q = (torch.arange(n_clusters, device=xs.device, dtype=cw.dtype) + 0.5) / n_clusters
    targets = q[None, :] * cw[:, -1:]  # [R, L]
    idx = torch.searchsorted(cw[:, 1:].contiguous(), targets.contiguous()).clamp_(max=xs.shape[1] - 1)
    return xs.gather(1, idx)


def _lloyd(x: torch.Tensor, w: torch.Tensor, n_clusters: int, iters: int) -> torch.Tensor:
    r, m = x.shape
    xs, order = x.sort(dim=1)
    ws = w.gather(1, order).double()
    zero = torch.zeros(r, 1, dtype=torch.float64, device=x.device)
    cw = torch.cat([zero, ws.cumsum(1)], dim=1)  # [R, M+1]
    cwx = torch.cat([zero, (ws * xs.double()).cumsum(1)], dim=1)
    c = _quantile_init(cw, xs, n_clusters)
    rows = torch.arange(r, device=x.device)
    ends = torch.full((r, 1), m, dtype=torch.int64, device=x.device)
    prev = None
    for _ in range(iters):
        mid = ((c[:, 1:] + c[:, :-1]) * 0.5).contiguous()  # [R, L-1]
        cuts = torch.cat([ends * 0, torch.searchsorted(xs, mid, right=True), ends], dim=1)  # [R, L+1]
        den = cw.gather(1, cuts[:, 1:]) - cw.gather(1, cuts[:, :-1])  # [R, L] cluster weight
        num = cwx.gather(1, cuts[:, 1:]) - cwx.gather(1, cuts[:, :-1])
        c = torch.where(den > 0, (num / den.clamp_min(1e-300)).to(c.dtype), c)
        reseeded = _reseed_empty(xs, ws, c, den <= 0, rows)
        c = c.sort(dim=1).values
        if not reseeded and prev is not None and torch.equal(cuts, prev):
            break
        prev = cuts
    return c


def _reseed_empty(xs, ws, c, empty, rows) -> bool:
    """In rows with an empty cluster, move the first empty one to the row's worst-served point."""
    todo = rows[empty.any(dim=1)]
    if todo.numel() == 0:
        return False
    x, cc = xs[todo], c[todo].sort(dim=1).values
    err = ws[todo] * (x.double() - cc.gather(1, nearest_centroid(x, cc)).double()) ** 2  # [T, M]
    worst_err, worst = err.max(dim=1)
    hit = worst_err > 0
    if not hit.any():
        return False
    slot = empty[todo].float().argmax(dim=1)
    c[todo[hit], slot[hit]] = x[hit, worst[hit]]
    return True


def weighted_kmeans(
    x: torch.Tensor, weights: torch.Tensor | None, n_clusters: int, iters: int = 30
) -> torch.Tensor:
    """x [R, M], weights [M] or [R, M] (positive; None = uniform) -> centroids [R, n_clusters], sorted.

    Minimises sum_m weights[m] * (x[r, m] - nearest centroid)^2 for every row r independently.
    """
    x = x.float()
    if weights is None:
        w = torch.ones_like(x)
    else:
        w = weights.float().to(x.device)
        w = w.expand_as(x) if w.dim() == 1 else w
    out = torch.empty(x.shape[0], n_clusters, device=x.device, dtype=x.dtype)
    for r0 in range(0, x.shape[0], ROW_CHUNK):
        r1 = min(r0 + ROW_CHUNK, x.shape[0])
        out[r0:r1] = _lloyd(x[r0:r1].contiguous(), w[r0:r1], n_clusters, iters)
    return out
