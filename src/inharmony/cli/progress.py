"""One progress bar helper (tqdm; hidden automatically when stderr is not a terminal)."""

from __future__ import annotations


def progress(iterable=None, desc: str = "", total: int | None = None, **kwargs):
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", None)
    return tqdm(iterable, desc=desc, total=total, dynamic_ncols=True, **kwargs)
