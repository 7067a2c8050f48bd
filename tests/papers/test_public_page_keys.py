"""The public page cache keys on the page a URL resolves to: `?page=01` redirects to the one
URL of that page, pages past the last or that are no number answer 404, and none of them
adds a cache entry (the cache shares a Redis without a memory limit with the broker)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from papers.views import PAGE_SIZE
from tests.factories import PaperFactory, TopicFactory

pytestmark = pytest.mark.django_db


def public_page_keys() -> int:
    client = cache._cache.get_client(None, write=False)
    return len(client.keys("*papers:public:*:*"))


@pytest.mark.parametrize(
    ("asked", "canonical"),
    [
        ("/papers/?page=1", "/papers/"),
        ("/papers/?page=01", "/papers/"),
        ("/papers/?page=001", "/papers/"),
        ("/papers/?page=02", "/papers/?page=2"),
        ("/topics/diffusion/?page=0002", "/topics/diffusion/?page=2"),
    ],
)
def test_a_page_number_written_another_way_redirects_to_its_one_url(client, asked, canonical):
    TopicFactory(slug="diffusion", query="diffusion")
    PaperFactory.create_batch(PAGE_SIZE + 1, title="Diffusion")

    response = client.get(asked)

    assert (response.status_code, response["Location"]) == (301, canonical)
    assert client.get(canonical).status_code == 200


@pytest.mark.parametrize(
    "page",
    ["3", "999999", "1" + "0" * 20, "9" * 5000, "0", "-1", "abc", "2.0", " 2", "²", "١"],
)
def test_a_page_past_the_last_or_not_a_number_is_not_found(client, page):
    PaperFactory.create_batch(PAGE_SIZE + 1)

    assert client.get("/papers/", {"page": page}).status_code == 404


def test_junk_page_numbers_add_no_cache_entries(client):
    TopicFactory(slug="diffusion", query="diffusion")
    PaperFactory.create_batch(PAGE_SIZE + 1, title="Diffusion")
    for path in ["/papers/", "/papers/?page=2", "/topics/", "/topics/diffusion/"]:
        assert client.get(path).status_code == 200
    for kind in ["rss", "atom"]:
        assert client.get(f"/topics/diffusion/{kind}/").status_code == 200
    legitimate = public_page_keys()

    for n in range(80):
        for path in ["/papers/", "/topics/diffusion/", "/topics/", "/topics/diffusion/rss/"]:
            client.get(path, {"page": "0" * (n % 5 + 1) + str(n % 3 + 1)})
            client.get(path, {"page": str(10**6 + n)})

    assert public_page_keys() == legitimate == 6


def test_the_previous_link_of_page_two_is_the_first_pages_own_url(client):
    PaperFactory.create_batch(PAGE_SIZE + 1)

    page = client.get("/papers/?page=2").content.decode()

    assert 'href="/papers/" rel="prev"' in page
