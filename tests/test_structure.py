"""The shape of the package: no file over 400 lines, no function over 80, no import circle, and a test
file mirroring every module with logic (`uue/a/b.py` -> `tests/a/test_b.py`).

Module-level imports only (an import inside a function runs after every module has loaded, which is
how a circle hides; this test counts those too, so a hidden circle still fails).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "uue"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (never executed, so no circle at run time)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *runtime_nodes(child)])
            continue
        yield node
        yield from runtime_nodes(node)


def imported_modules(path: Path) -> set[str]:
    """The uue modules `path` imports, anywhere in the file (`from uue.x import y` counts uue.x.y if a module)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + [base]
                ).strip(".")
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found - {module_name(path)}


def import_graph() -> dict[str, set[str]]:
    graph = {name: imported_modules(path) for name, path in MODULES.items()}
    for name in MODULES:  # importing a.b.c runs a and a.b first
        parents = name.split(".")
        graph[name] |= {".".join(parents[:i]) for i in range(1, len(parents))} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], else None. Edges into a package from its own modules are skipped
    (an `__init__` that re-exports its modules is the normal shape, not a circle)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if node.startswith(target + "."):  # a module needing its own package: always loaded first
                continue
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert find_cycle({"p": {"p.x"}, "p.x": {"p"}}) is None  # a package re-exporting its module


@pytest.mark.parametrize("name", sorted(MODULES))
def test_files_and_functions_are_small(name: str) -> None:
    path = MODULES[name]
    source = path.read_text()
    assert source.count("\n") <= MAX_FILE_LINES, f"{path}: {source.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path}: " + ", ".join(long)


# Tests mirror modules: `uue/a/b.py` is tested in `tests/a/test_b.py`. A module without that file is
# listed here, with the test file that imports it or with why it has no logic to test.
TESTS = PACKAGE.parent / "tests"
TESTED_ELSEWHERE = {
    "uue/datasets/histories.py": "tests/datasets/test_history_rows.py",
    "uue/datasets/ingest.py": "tests/datasets/test_registry.py",
    "uue/datasets/parser.py": "tests/datasets/test_registry.py",
    "uue/datasets/reddit_columns.py": "tests/datasets/test_reddit_index.py",
    "uue/models.py": "tests/trainers/test_merge.py",
    "uue/optimizers/compile_config.py": "tests/optimizers/test_compile.py",
    "uue/optimizers/optimizers.py": "tests/optimizers/test_compile.py",
    "uue/programs/behaviour.py": "tests/programs/test_behaviours.py",
    "uue/programs/judge.py": "tests/optimizers/test_references.py",
    "uue/programs/label_job.py": "tests/programs/test_activity.py",
    "uue/programs/lm/config.py": "tests/programs/test_lm.py",
    "uue/programs/lm/gguf.py": "tests/programs/test_lm.py",
    "uue/programs/lm/llamacpp.py": "tests/programs/test_lm.py",
    "uue/programs/lm/llamacpp_batch.py": "tests/programs/test_llamacpp_batch.py",
    "uue/programs/lm/offline.py": "tests/programs/test_lm.py",
    "uue/programs/negatives.py": "tests/optimizers/test_references.py",
    "uue/programs/profile.py": "tests/seqrec/test_profiles.py",
    "uue/programs/program.py": "tests/optimizers/test_compile.py",
    "uue/programs/scripted.py": "tests/programs/test_behaviours.py",
    "uue/programs/synth.py": "tests/programs/test_pivot_synth.py",
    "uue/programs/synth_config.py": "tests/cli/test_options.py",
    "uue/seqrec/bert4rec.py": "tests/seqrec/test_models.py",
    "uue/seqrec/layers.py": "tests/seqrec/test_models.py",
    "uue/seqrec/profile_job.py": "tests/seqrec/test_profiles.py",
    "uue/seqrec/registry.py": "tests/seqrec/test_models.py",
    "uue/seqrec/sasrec.py": "tests/seqrec/test_models.py",
    "uue/trainers/student_config.py": "tests/trainers/test_student.py",
    "uue/twotower/config.py": "tests/twotower/test_train.py",
    "uue/twotower/embedder.py": "tests/eval/test_embedders.py",
}
NO_LOGIC = {
    "uue/cli/data.py": "CLI wiring (ingest, embed, similar, merge-triplets, infer): builds the config, prints "
    "the report; run through `uue ...` in tests/datasets/test_bad_input.py and tests/eval/",
    "uue/cli/seqrec.py": "CLI wiring of `uue seqrec`: loads the YAML config, prints the metrics",
    "uue/cli/student.py": "CLI wiring (train, student, merge, bench, train-two-tower); `uue bench` is run "
    "in tests/eval/test_bench.py",
    "uue/cli/teacher.py": "CLI wiring (synth, compile); run in tests/cli/test_options.py and "
    "tests/optimizers/test_compile.py",
    "uue/trainers/recipe_config.py": "a pydantic config and an enum, no validator",
    "uue/twotower/encoder.py": "a thin nn.Module over uue.models.load_sentence_transformer (forward is "
    "preprocess + model); built with real weights in tests/twotower/test_train.py",
}


def mirrored_test(module: Path) -> Path:
    """`uue/a/b.py` -> `tests/a/test_b.py` (`uue/b.py` -> `tests/test_b.py`)."""
    relative = module.relative_to(PACKAGE)
    return TESTS / relative.parent / f"test_{relative.stem}.py"


def _tests_module(test_file: Path, module: Path) -> bool:
    """Whether `test_file` imports `module` (anywhere in the file) or names it (dotted, or its path)."""
    dotted, text = module_name(module), test_file.read_text()
    relative = module.relative_to(PACKAGE.parent).as_posix()
    return dotted in imported_modules(test_file) or dotted in text or relative in text


def mirror_problems(
    tested_elsewhere: dict[str, str], no_logic: dict[str, str], modules: dict[str, Path] = MODULES
) -> list[str]:
    """One line per module with neither its mirrored test nor an entry, and per stale or wrong entry."""
    files = {path.relative_to(PACKAGE.parent).as_posix(): path for path in modules.values()}
    files = {key: path for key, path in files.items() if path.name != "__init__.py"}
    problems = []
    for key in sorted(tested_elsewhere.keys() & no_logic.keys()):
        problems.append(f"{key}: listed in both TESTED_ELSEWHERE and NO_LOGIC")
    for key in sorted(tested_elsewhere.keys() | no_logic.keys()):
        table = "TESTED_ELSEWHERE" if key in tested_elsewhere else "NO_LOGIC"
        if key not in files:
            problems.append(f"{key}: no such module any more; remove it from {table}")
        elif mirrored_test(files[key]).is_file():
            mirror = mirrored_test(files[key]).relative_to(PACKAGE.parent)
            problems.append(f"{key}: {mirror} exists now; remove the module from {table}")
    for key, path in sorted(files.items()):
        mirror = mirrored_test(path)
        if mirror.is_file() or key in no_logic:
            continue
        if key not in tested_elsewhere:
            problems.append(
                f"{key}: no {mirror.relative_to(PACKAGE.parent)}; write it, or list the module in "
                "TESTED_ELSEWHERE (with the test file that imports it) or NO_LOGIC (with why)"
            )
            continue
        test_file = PACKAGE.parent / tested_elsewhere[key]
        if not test_file.is_file():
            problems.append(f"{key}: TESTED_ELSEWHERE names {tested_elsewhere[key]}, which does not exist")
        elif not _tests_module(test_file, path):
            problems.append(f"{key}: {tested_elsewhere[key]} does not import {module_name(path)}")
    return problems


def test_every_module_with_logic_has_its_mirrored_test_file() -> None:
    problems = mirror_problems(TESTED_ELSEWHERE, NO_LOGIC)
    assert not problems, "\n".join(problems)


def test_the_mirror_check_finds_missing_stale_and_wrong_entries(tmp_path) -> None:
    assert mirrored_test(PACKAGE / "eval" / "report.py") == TESTS / "eval" / "test_report.py"
    assert mirrored_test(PACKAGE / "config.py") == TESTS / "test_config.py"
    listed = {**TESTED_ELSEWHERE}
    del listed["uue/programs/judge.py"]  # neither mirrored nor listed
    listed["uue/gone.py"] = "tests/test_structure.py"  # no such module
    listed["uue/config.py"] = "tests/test_config.py"  # mirrored: the entry is stale
    listed["uue/seqrec/sasrec.py"] = "tests/test_errors.py"  # does not import it
    listed["uue/seqrec/layers.py"] = "tests/seqrec/test_nothing.py"  # no such test file
    no_logic = {**NO_LOGIC, "uue/seqrec/bert4rec.py": "both"}
    problems = mirror_problems(listed, no_logic)
    assert problems[0] == "uue/seqrec/bert4rec.py: listed in both TESTED_ELSEWHERE and NO_LOGIC"
    assert (
        "uue/config.py: tests/test_config.py exists now; remove the module from TESTED_ELSEWHERE" in problems
    )
    assert "uue/gone.py: no such module any more; remove it from TESTED_ELSEWHERE" in problems
    assert any(
        p.startswith("uue/programs/judge.py: no tests/programs/test_judge.py; write it") for p in problems
    )
    assert "uue/seqrec/sasrec.py: tests/test_errors.py does not import uue.seqrec.sasrec" in problems
    assert (
        "uue/seqrec/layers.py: TESTED_ELSEWHERE names tests/seqrec/test_nothing.py, which does not exist"
        in problems
    )
    assert len(problems) == 6


def test_the_cli_loads_no_recommender_until_one_is_asked_for() -> None:
    """`uue train` and the other commands import the CLI; the recommenders' models load on first lookup."""
    probe = (
        "import sys, uue.cli; loaded = [m for m in ('uue.seqrec.sasrec', 'uue.seqrec.bert4rec') if m in sys.modules]; "
        "from uue.seqrec.registry import registered_recommenders; print(loaded, registered_recommenders())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] ['bert4rec', 'sasrec']"
