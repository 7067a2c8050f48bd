"""Papers on two clearly different subjects, for the personalisation tests."""

from __future__ import annotations

import datetime as dt

from newsletter.models import Rating
from tests.clock import NOW, TODAY
from tests.factories import PaperFactory

VIDEO = [
    "Text-to-video diffusion with temporal attention for long video generation",
    "Animating portraits: talking head video synthesis from audio",
    "Consistent video generation with motion priors and temporal layers",
    "Image-to-video generation with camera motion control",
    "Video diffusion transformers for long, coherent clips",
    "Generating human dance videos from a single image and a pose sequence",
]
LANGUAGE = [
    "Aligning large language models with preference optimisation",
    "Chain-of-thought reasoning in large language models",
    "Evaluating language model hallucination on question answering",
    "Instruction tuning of large language models for code",
    "Scaling laws for language model pretraining data",
    "Reward models for reinforcement learning from human feedback on language models",
]
OTHER = [
    "Graph neural networks for molecule property prediction",
    "A survey of federated learning under non-IID data",
    "Robust speech recognition for noisy call-centre audio",
    "Point cloud segmentation for autonomous driving",
    "Protein structure prediction with geometric deep learning",
    "Bayesian optimisation of chemical reactions",
    "Weather forecasting with neural operators",
    "Traffic prediction with spatio-temporal graph networks",
]


# Papers on one subject share its vocabulary, as real abstracts do.
SUBJECT_WORDS = {
    "video": "video frames temporal motion clips animation",
    "language": "language model tokens text reasoning prompts",
    "other": "",
}


def subject_of(title: str) -> str:
    return "video" if title in VIDEO else "language" if title in LANGUAGE else "other"


def abstract_for(title: str) -> str:
    words = SUBJECT_WORDS[subject_of(title)]
    return f"We present {title.lower()}. Our method uses {words}; experiments show gains."


def make_papers(titles, *, day: dt.date = TODAY, **fields):
    return [
        PaperFactory(title=title, abstract=abstract_for(title), announced_on=day, **fields)
        for title in titles
    ]


def rate(subscriber, papers, vote: int) -> None:
    for paper in papers:
        Rating.objects.update_or_create(
            subscriber=subscriber, paper=paper, defaults={"vote": vote, "rated_at": NOW}
        )
