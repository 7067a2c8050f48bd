"""The suite's settings: the product's own, never reading a .env that `make run` left here."""

import os

os.environ["ENV_FILE"] = ""  # also for the processes the tests start

from newsletter.settings import *  # noqa: E402, F403
