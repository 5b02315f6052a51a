"""Which page numbers a pager links: the first, the last, and the current page's
neighbours, with a gap (``None``, shown as "…") where pages are left out.

A report of 200,000 citations at 1,000 a page has 200 pages; listing every one put 200
links above and below its table. ``page_links(100, 200)`` is ``[1, None, 98, 99, 100, 101,
102, None, 200]``: at most ``2 * around + 5`` entries whatever the count. A gap would
hide a single page is that page's number instead ("1 … 3" says less than "1 2 3").

>>> page_links(1, 10)
[1, 2, 3, None, 10]
>>> page_links(4, 10)
[1, 2, 3, 4, 5, 6, None, 10]
"""

from __future__ import annotations


def page_links(current: int, pages: int, *, around: int = 2) -> list[int | None]:
    """The page numbers to link (see the module docstring); ``current`` is among them
    when it is between 1 and ``pages``."""
    shown = sorted({1, pages} | {n for n in range(current - around, current + around + 1)
                                 if 1 <= n <= pages})
    out: list[int | None] = []
    for n in shown:
        if out and (last := out[-1]) is not None:
            if n - last == 2:  # one page between: show it rather than a gap
                out.append(last + 1)
            elif n - last > 2:
                out.append(None)
        out.append(n)
    return out
