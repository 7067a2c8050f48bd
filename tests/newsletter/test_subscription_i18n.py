"""English and Simplified Chinese: pages follow the browser, emails the reader's language."""

from __future__ import annotations

import pytest

from newsletter import email_tasks
from newsletter.models import Subscriber
from tests.factories import SubscriberFactory
from tests.newsletter.subscription_helpers import signup_data

pytestmark = pytest.mark.django_db


def test_the_sign_up_page_speaks_chinese_to_a_chinese_browser(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")

    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "热门论文，直达你的收件箱" in page
    assert "订阅" in page


def test_the_sign_up_page_speaks_english_by_default(client):
    page = client.get("/").content.decode()

    assert '<html lang="en">' in page
    assert "Get trending papers in your email inbox" in page


def test_form_errors_are_translated(client):
    response = client.post(
        "/", signup_data(email="nonsense", own_query=""), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    page = response.content.decode()
    assert "这不是有效的电子邮件地址" in page
    assert "请至少勾选一个主题" in page


def test_the_confirmation_email_is_sent_in_the_chosen_language(mailoutbox):
    subscriber = SubscriberFactory(
        status=Subscriber.Status.PENDING, confirmed_at=None, language="zh-hans"
    )

    email_tasks.send_confirmation_email(subscriber.pk)

    (message,) = mailoutbox
    assert message.subject == "确认你的 Paperboy 订阅"
    assert "48 小时内有效" in message.body
    assert "确认我的订阅" in message.alternatives[0][0]


def test_the_manage_link_email_is_sent_in_the_chosen_language(mailoutbox):
    subscriber = SubscriberFactory(language="zh-hans")

    email_tasks.send_manage_link_email(subscriber.pk)

    (message,) = mailoutbox
    assert message.subject == "你的 Paperboy 订阅"
    assert "管理订阅" in message.alternatives[0][0]


def test_every_chinese_message_is_translated_and_the_mo_is_up_to_date():
    import gettext
    import re
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
    po = (folder / "django.po").read_text()
    with (folder / "django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    singular_ids = {
        re.sub(r'"\n"', "", match) for match in re.findall(r'^msgid "(.+)"$', po, re.MULTILINE)
    }
    compiled_ids = {key if isinstance(key, str) else key[0] for key in catalog}
    assert "#, fuzzy" not in po
    assert '\nmsgstr ""\n\n' not in po
    assert len(compiled_ids) >= len(singular_ids), "run compilemessages: the .mo is stale"
