"""Test-wide settings: offline, a throwaway DSPy cache, DSPy settings reset, and the shared real data."""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
# Runs tracked by tests go to a throwaway store, never the developer's ./mlflow.db.
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tempfile.mkdtemp(prefix='uue-test-mlflow-')}/mlflow.db"

from uue.programs.lm.offline import ensure_offline_defaults  # noqa: E402

ensure_offline_defaults()  # before anything imports litellm

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REDDIT_DIR = SHARED_DATA / "reddit-college"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"the shared real data is missing: expected {SHARED_DATA} (../shared/data beside the repo)"
        )
    return SHARED_DATA


@pytest.fixture
def isolated_dspy(tmp_path_factory, monkeypatch):
    """DSPy's default settings and a private on-disk cache (autouse in tests/optimizers; opt-in elsewhere,
    since importing and configuring DSPy costs about a second a test)."""
    import dspy

    cache_dir = tmp_path_factory.mktemp("dspy-cache")
    monkeypatch.setenv("DSPY_CACHEDIR", str(cache_dir))
    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(cache_dir))
    with dspy.context(lm=None, adapter=None):
        yield
