"""The report page's pager links the first page, the last and the current one's
neighbours (``preserver/web/pager.py``), not every page."""

from __future__ import annotations

import itertools

import pytest

from preserver.web.pager import page_links


@pytest.mark.parametrize(("current", "pages", "expected"), [
    (1, 1, [1]),
    (1, 2, [1, 2]),
    (2, 2, [1, 2]),
    (1, 10, [1, 2, 3, None, 10]),
    (4, 10, [1, 2, 3, 4, 5, 6, None, 10]),  # "1 2 3", not "1 … 3": no gap hides one page
    (5, 10, [1, 2, 3, 4, 5, 6, 7, None, 10]),
    (6, 10, [1, None, 4, 5, 6, 7, 8, 9, 10]),
    (10, 10, [1, None, 8, 9, 10]),
    (3, 7, [1, 2, 3, 4, 5, 6, 7]),
    (100, 200, [1, None, 98, 99, 100, 101, 102, None, 200]),
    (200, 200, [1, None, 198, 199, 200]),
])
def test_the_window_of_page_numbers(current: int, pages: int,
                                    expected: list[int | None]) -> None:
    assert page_links(current, pages) == expected


@pytest.mark.parametrize("pages", [1, 2, 7, 8, 200, 10**6])
def test_every_window_is_bounded_ordered_and_holds_first_last_and_current(pages: int) -> None:
    for current in {c for c in (1, 2, 3, pages // 2, pages - 1, pages) if 1 <= c <= pages}:
        shown = page_links(current, pages)
        numbers = [n for n in shown if n is not None]
        assert len(shown) <= 9
        assert numbers == sorted(set(numbers))
        assert {1, current, pages} <= set(numbers)
        assert all(a is not None or b is not None for a, b in itertools.pairwise(shown))
