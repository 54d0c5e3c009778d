"""Phase 1 for one user (seed 000): cluster around the latest unlabelled activity, remove, repeat.

Cost: the rendered segment is fixed for all rounds of a user and goes first in the prompt; a round
only changes the short suffix (labelled indices, pivot). With llama.cpp's prefix cache (or an API's
prompt cache) the segment is evaluated once per user, not once per round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uue.datasets.records import History
from uue.datasets.render import Segment, TokenCounter, approximate_tokens, render_segment
from uue.programs.pivot import PivotCluster


@dataclass(frozen=True)
class Cluster:
    """One labelled cluster: indices into its segment, and the two labels."""

    indices: list[int]
    specific: str
    broad: str


@dataclass
class Extraction:
    """What phase 1 found in one segment: clusters, and why rounds produced none."""

    clusters: list[Cluster] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # reason codes of rounds with no valid answer
    empty_rounds: int = 0  # rounds where the teacher said the pivot has no meaningful cluster
    merged_rounds: int = 0  # rounds whose label repeated an earlier cluster's: joined to it


def recent_segment(
    history: History, size: int, budget: int, count_tokens: TokenCounter = approximate_tokens
) -> Segment:
    """The user's `size` most recent activities, numbered from 0, rendered within `budget` tokens.

    When the user's own words overflow the budget, render_segment drops the oldest activities; the
    survivors are rendered again so that the numbers the teacher sees are 0..n-1.
    """
    activities = history.activities[-size:]
    rendered = render_segment(activities, budget, count_tokens)
    if rendered.dropped:
        activities = activities[rendered.dropped :]
        rendered = render_segment(activities, budget, count_tokens)
    return Segment(history.user_id, activities, rendered.text)


def extract_clusters(
    segment: Segment, pivot_cluster: PivotCluster, max_positives: int, max_misses: int = 2
) -> Extraction:
    """Up to `max_positives` clusters; stops after `max_misses` rounds in a row without one.

    A round without a cluster (teacher said none, or no valid answer) still removes its pivot, so
    the next round asks about the next most recent activity instead of repeating the same call. A
    round that names an earlier cluster's label adds its activities to that cluster and counts as a
    round without a new one.
    """
    result = Extraction()
    used: list[int] = []
    misses = 0
    while len(result.clusters) < max_positives and misses < max_misses and len(used) < len(segment):
        pivot = max(i for i in range(len(segment)) if i not in used)
        taken = [cluster.specific for cluster in result.clusters]
        found = pivot_cluster(segment=segment, clustered=used, pivot=pivot, taken=taken)
        if found.has_cluster and found.same_as is not None:
            earlier = result.clusters[found.same_as]
            indices = sorted({*earlier.indices, *found.related})
            result.clusters[found.same_as] = Cluster(indices, earlier.specific, earlier.broad)
            used.extend(found.related)
            result.merged_rounds += 1
            misses += 1
            continue
        if found.has_cluster:
            result.clusters.append(Cluster(list(found.related), found.specific, found.broad))
            used.extend(found.related)
            misses = 0
            continue
        if found.failure:
            result.failures.append(found.failure)
        else:
            result.empty_rounds += 1
        used.append(pivot)
        misses += 1
    return result
