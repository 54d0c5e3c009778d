"""`uue synth`: histories -> (context, positive, negative) triplets, by one of two teacher modes.

`--mode pivot` (seed 000, `pivot_synth.py`): the teacher clusters a segment of each history around
pivots, one triplet per cluster. `--mode activity` (seed 001 §3, `activity_synth.py`): the teacher
labels each activity on its own, one triplet per label. Both are resumable and write `out/triplets`
and `out/report.json`.
"""

from __future__ import annotations

from uue.programs.activity_synth import ActivitySynthReport, run_activity_synth
from uue.programs.pivot_synth import PivotSynthReport, run_pivot_synth
from uue.programs.synth_config import NegativeMode, SynthConfig, SynthMode
from uue.programs.synth_output import log_synth_report, synth_run

__all__ = ["ActivitySynthReport", "NegativeMode", "PivotSynthReport", "SynthConfig", "SynthMode", "run_synth"]

SynthReport = ActivitySynthReport | PivotSynthReport


def run_synth(config: SynthConfig) -> SynthReport:
    """Run (or resume) synthesis in the config's mode; returns the report written to report.json."""
    with synth_run(config) as run:
        report = run_activity_synth(config) if config.mode is SynthMode.activity else run_pivot_synth(config)
        if run is not None:
            log_synth_report(report.model_dump(mode="json"), config.out)
    return report
