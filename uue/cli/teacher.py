"""Commands that run the teacher: synth (training triplets) and compile (teacher prompts)."""

from __future__ import annotations

import json

from uue.cli.app import app, console, one_line_errors
from uue.cli.options import config_command
from uue.optimizers.compile_config import CompileConfig
from uue.programs.synth_config import SynthConfig


@app.command()
@one_line_errors
@config_command(SynthConfig, teacher=True)
def synth(config: SynthConfig) -> None:
    """Write (context, positive, negative) training triplets with the teacher; rerun the same command to resume."""
    from uue.programs.synth import run_synth

    report = run_synth(config)
    console.print(
        f"[green]wrote[/green] {report.triplets:,} triplets from {report.users:,} users to "
        f"{config.out}/triplets; {report.llm_this_run.generated_calls:,} LLM calls this run "
        f"({report.llm.generated_calls:,} for the whole job), failures "
        f"{json.dumps(report.failures)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("compile")
@one_line_errors
@config_command(CompileConfig, teacher=True, text=("prompt_model",))
def compile_command(config: CompileConfig) -> None:
    """Compile one teacher module with a DSPy optimizer on label-free reference sets; `uue synth --program OUT` uses it."""
    from uue.optimizers.compile import compile_program

    report = compile_program(config)
    console.print(
        f"[green]wrote[/green] {config.out}: {report.metric['name']} {report.before:.3f} -> "
        f"{report.after:.3f} on {report.valset_size} val examples; "
        f"{report.llm.generated_calls:,} LLM calls",
        highlight=False,
        soft_wrap=True,
    )
