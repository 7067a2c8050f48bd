"""Small factories: each builds one valid row, tests set only what they are about. Dates are
the suite's fixed "today" (tests.clock), never the wall clock's."""

from __future__ import annotations

import datetime as dt

import factory

from newsletter.models import Digest, DigestItem, Subscriber, Topic
from papers.models import FetchRun, Paper, Source
from tests.clock import NOW, TODAY


class PaperFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Paper

    arxiv_id = factory.Sequence(lambda n: f"2503.{n:05d}")
    title = factory.Sequence(lambda n: f"A study of things, part {n}")
    abstract = "We study things and report results."
    authors = factory.List(["Ada Lovelace", "Alan Turing"])
    authors_text = factory.LazyAttribute(lambda paper: ", ".join(paper.authors))
    primary_category = "cs.CV"
    categories = factory.List(["cs.CV"])
    announced_on = TODAY
    published_at = NOW - dt.timedelta(days=1)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("name",)

    name = "arxiv-rss"
    kind = Source.Kind.ARXIV_RSS
    categories = factory.List(["cs.CV"])


class FetchRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FetchRun

    source = factory.SubFactory(SourceFactory)
    status = FetchRun.Status.SUCCEEDED
    finished_at = NOW


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.Sequence(lambda n: f"topic-{n}")
    query = "diffusion"


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"reader{n}@example.com")
    status = Subscriber.Status.ACTIVE
    confirmed_at = NOW

    @factory.post_generation
    def topics(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.topics.set(extracted)


class DigestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Digest

    subscriber = factory.SubFactory(SubscriberFactory)
    edition_on = TODAY
    covers_from = factory.LazyAttribute(lambda digest: digest.edition_on - dt.timedelta(days=1))
    covers_to = factory.LazyAttribute(lambda digest: digest.edition_on)


class DigestItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DigestItem

    digest = factory.SubFactory(DigestFactory)
    subscriber = factory.LazyAttribute(lambda item: item.digest.subscriber)
    paper = factory.SubFactory(PaperFactory)
    rank = factory.Sequence(lambda n: n + 1)
