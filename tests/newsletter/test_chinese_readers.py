"""A Chinese reader: Chinese dates, topics named in Chinese by editors (English when not),
a language choice that starts at the page's language, a switch on every page, and query
advice in Chinese."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from newsletter.digests.building import digests_build
from newsletter.digests.delivery import digests_send
from newsletter.models import Subscriber
from tests.factories import PaperFactory, SubscriberFactory, TopicFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = pytest.mark.django_db

TUESDAY = dt.date(2025, 3, 25)
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def diffusion_topic(**fields):
    return TopicFactory(
        name="Score models",
        slug="score-models",
        description="Denoising diffusion and score-based generative models.",
        query="diffusion",
        **fields,
    )


def test_a_topic_page_in_chinese_shows_the_editors_chinese_name_and_description(client):
    diffusion_topic(name_zh="扩散模型", description_zh="去噪扩散与基于分数的生成模型。")

    chinese = client.get("/topics/score-models/", **CHINESE).content.decode()
    english = client.get("/topics/score-models/").content.decode()

    assert "<h1>扩散模型</h1>" in chinese and "去噪扩散与基于分数的生成模型。" in chinese
    assert "<h1>Score models</h1>" in english and "扩散模型" not in english


def test_a_topic_without_a_chinese_name_keeps_its_english_one_on_chinese_pages(client):
    diffusion_topic()

    chinese = client.get("/topics/", **CHINESE).content.decode()

    assert "<strong>Score models</strong>" in chinese
    assert "Denoising diffusion and score-based generative models." in chinese


def test_the_sign_up_form_lists_topics_by_their_chinese_names_on_the_chinese_page(client):
    diffusion_topic(name_zh="扩散模型")

    page = client.get("/", **CHINESE).content.decode()

    assert "<strong>扩散模型</strong>" in page


def test_a_chinese_readers_email_names_the_topic_in_chinese():
    topic = diffusion_topic(name_zh="扩散模型")
    PaperFactory(title="Diffusion one", announced_on=TUESDAY)
    reader = SubscriberFactory(topics=[topic], language="zh-hans")
    english = SubscriberFactory(topics=[topic])

    built = digests_build(subscriber_ids=[reader.pk, english.pk], edition_on=TUESDAY)
    digests_send(digest_ids=built.digest_ids, token="t")

    by_reader = {message.to[0]: message for message in mail.outbox}
    assert "主题：扩散模型" in by_reader[reader.email].subject
    assert "扩散模型: diffusion" in by_reader[reader.email].body
    assert "on Score models" in by_reader[english.email].subject
    assert "扩散模型" not in by_reader[english.email].body


def test_the_language_choice_starts_at_the_pages_language(client):
    chinese = client.get("/", **CHINESE).content.decode()
    english = client.get("/").content.decode()

    assert '<option value="zh-hans" selected>' in chinese
    assert '<option value="en" selected>' in english


def test_signing_up_on_the_chinese_page_without_changing_the_choice_gives_chinese_emails(
    client, django_capture_on_commit_callbacks
):
    page = client.get("/", **CHINESE).content.decode()
    assert '<option value="zh-hans" selected>' in page

    with django_capture_on_commit_callbacks(execute=True):  # the sign-up task stores the reader
        client.post("/", signup_data(language="zh-hans"), **CHINESE)

    assert Subscriber.objects.get().language == "zh-hans"


@pytest.mark.parametrize("path", ["/", "/papers/", "/topics/", "/topics/score-models/"])
def test_every_public_page_has_a_language_switch_topics_and_subscribe_links(client, path):
    diffusion_topic()
    PaperFactory(announced_on=TUESDAY)

    page = client.get(path).content.decode()

    assert f'href="/language/zh-hans/?next={path}"' in page
    assert '<a href="/topics/">Topics</a>' in page
    assert '<a href="/">Subscribe</a>' in page


def test_the_language_switch_remembers_the_choice_and_returns_to_the_page(client):
    response = client.get("/language/zh-hans/?next=/topics/")

    assert response.status_code == 302 and response["Location"] == "/topics/"
    assert response.cookies["django_language"].value == "zh-hans"
    assert '<html lang="zh-hans">' in client.get("/topics/").content.decode()


def test_the_language_switch_never_sends_a_reader_off_the_site(client):
    response = client.get("/language/en/?next=https://evil.example/")

    assert response["Location"] == "/"


def test_an_unknown_language_changes_nothing(client):
    response = client.get("/language/xx/?next=/topics/")

    assert response.status_code == 404
    assert "django_language" not in response.cookies


def test_query_advice_is_in_chinese_on_the_chinese_page(client):
    chinese = client.get("/preview/", {"own_query": '"image generation'}, **CHINESE)
    english = client.get("/preview/", {"own_query": '"image generation'})

    assert "引号没有闭合：请补上结尾的 &quot;。" in chinese.content.decode()
    assert "A quote is not closed: add the closing &quot;." in english.content.decode()


def test_a_day_page_in_chinese_writes_the_date_the_chinese_way(client):
    PaperFactory(announced_on=TUESDAY)

    page = client.get("/papers/2025-03-25/", **CHINESE).content.decode()

    assert "2025年3月25日 星期二" in page
    assert "三月" not in page


def test_the_favicon_is_served(client):
    page = client.get("/").content.decode()
    response = client.get("/favicon.ico")

    assert '<link rel="icon" href="/static/newsletter/favicon.svg"' in page
    assert response.status_code == 302
    assert response["Location"] == "/static/newsletter/favicon.svg"


def test_the_starting_topics_come_with_chinese_names():
    from newsletter.models import Topic

    topic = Topic.objects.get(slug="diffusion-models")

    assert (topic.name_in("zh-hans"), topic.name_in("en")) == ("扩散模型", "Diffusion models")
    assert topic.description_in("zh-hans") == "去噪扩散、分数模型、流匹配。"
