"""A vote (self-consistency): N samples of one strategy, their majority answer.

Its limits and its one spelling, ``g1@8``, live here, in a module light enough for the CLI's
parser, the eval specs and the app's switcher to import without loading the group runner.
``ask --strategy g1 --samples 8`` asks for the same vote that ``eval --strategies g1@8`` runs
and that the app and the history call ``g1@8``.
"""

from __future__ import annotations

from backends.engines import MIN_CONCURRENT_SEQUENCES

#: Fewest samples a vote makes sense with.
MIN_SAMPLES = 2
#: Most samples of one vote: the managed LMDeploy server is never started with room for fewer
#: concurrent sequences than this, so a whole vote decodes in one batch.
MAX_SAMPLES = MIN_CONCURRENT_SEQUENCES


def vote_label(strategy: str, samples: int) -> str:
    """The one spelling of a vote: ``g1@8``."""
    return f"{strategy}@{samples}"
