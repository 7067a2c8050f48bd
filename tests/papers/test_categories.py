"""arXiv categories as readers and editors type them."""

from __future__ import annotations

import pytest

from papers.categories import CategoryError, parse_categories


def test_categories_are_split_and_deduplicated_in_order():
    assert parse_categories("cs.CV, cs.LG cs.CV") == ["cs.CV", "cs.LG"]


def test_a_category_with_markup_is_refused_with_a_clear_message():
    with pytest.raises(CategoryError, match="not an arXiv category"):
        parse_categories("cs.CV; <script>")
