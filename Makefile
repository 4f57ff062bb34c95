# fashion-transfer: `make help` lists the targets. Every target installs first when needed.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= $(if $(wildcard ../shared/data/FashionMNIST/raw),../shared/data,data)
SYNTH ?= data/FashionSynth
STAMPED_SWEEP := multirun/demo_$(shell date +%Y-%m-%d_%H-%M-%S)
SWEEP ?= $(STAMPED_SWEEP)
DEMO_SEEDS ?= 0,1,2
# The demo runs DEMO_JOBS jobs at a time (joblib), each on its share of the cores: on this 2-core
# machine two single-thread jobs keep both cores busier than one two-thread job does.
DEMO_JOBS ?= 2
DEMO_LAUNCH = hydra/launcher=joblib hydra.launcher.n_jobs=$(DEMO_JOBS) \
	train.threads=$$(( ($$(nproc) + $(DEMO_JOBS) - 1) / $(DEMO_JOBS) ))
LATEST_DEMO = $(lastword $(sort $(wildcard multirun/demo_*)))
TUNE_TRIALS ?= 2
TUNE_SEEDS ?= 0
TUNE_SWEEP ?= multirun/tune_demo_$(shell date +%Y-%m-%d_%H-%M-%S)
LATEST_TUNE = $(lastword $(sort $(wildcard multirun/tune_demo_*)))
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-fast test-slurm lint format baseline synth demo demo-readme tune-demo tune-readme bench bench-quick gpu-check status clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F ':.*?## ' '{printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,launchers]'
	touch $(STAMP)

install: $(STAMP) ## Make .venv and install the suite with its dev tools and Hydra launchers

test: $(STAMP) ## Run every test but the Slurm ones: fast ones and the slow end-to-end sweeps
	$(PY) -m pytest -m "not slurm" $(ARGS)

test-fast: $(STAMP) ## Run the fast tests only (a few minutes)
	$(PY) -m pytest $(ARGS)

test-slurm: $(STAMP) ## Slurm tests on a local cluster they install and start (root, apt-get; 4-9 min)
	$(PY) -m pytest -m slurm $(ARGS)

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format src tests
	$(VENV)/bin/ruff check --fix src tests

baseline: $(STAMP) ## Train the Fashion-MNIST baseline on real data (DATA=dir holding FashionMNIST/raw)
	$(PY) -m fashion_transfer.train strategy=fmnist_baseline paths.data_dir=$(DATA) eval.zero_shot=false $(ARGS)

synth: $(STAMP) ## Generate the FashionSynth demo data into $(SYNTH) (idempotent)
	$(PY) -m fashion_transfer.synth --out $(SYNTH)

demo: synth ## The offline demo: five strategies x DEMO_SEEDS (0,1,2) on FashionSynth, then the report
	@mkdir -p $(SWEEP) && date +%s > $(SWEEP)/demo_started_s
	@# The gap decomposition's in-domain run: the baseline CNN trained on the target's Fashion-MNIST
	@# view, the same view (background included) as the zero-shot score reads. Its three short jobs
	@# run one at a time beside the five-strategy sweep (console in fmnist_view.log), on the core
	@# that sweep's last jobs leave idle, instead of as a second sweep after it. A background job
	@# of a script ignores Ctrl-C, so the trap stops it when Ctrl-C stops the main sweep (its
	@# jobs resume on the next `make demo`, as the main sweep's do).
	@trap 'kill -TERM $$view 2>/dev/null' INT TERM; \
	$(PY) -m fashion_transfer.train -m experiment=demo strategy=fmnist_baseline seed=$(DEMO_SEEDS) \
		dataset@source=synth_wild source.view=fmnist source.resolution=28 source.label_space=shared \
		'source.fmnist_background=$${target.fmnist_background}' \
		source.train_fraction=1.0 source.augment.translate=2 paths.synth_dir=$(SYNTH) \
		hydra.sweep.dir=$(SWEEP)/fmnist_view train.threads=1 $(ARGS) > $(SWEEP)/fmnist_view.log 2>&1 & \
	view=$$!; \
	$(PY) -m fashion_transfer.train -m experiment=demo 'strategy=glob(*)' seed=$(DEMO_SEEDS) \
		paths.synth_dir=$(SYNTH) hydra.sweep.dir=$(SWEEP) $(DEMO_LAUNCH) $(ARGS); main=$$?; \
	wait $$view; rc=$$?; \
	if [ $$rc -ne 0 ] && [ $$main -ne 130 ]; then tail -n 5 $(SWEEP)/fmnist_view.log >&2; \
		echo "error: the Fashion-MNIST-view sweep failed (exit $$rc); its console: $(SWEEP)/fmnist_view.log" >&2; fi; \
	if [ $$main -ne 0 ]; then exit $$main; fi; exit $$rc
	$(PY) -m fashion_transfer.analyze $(SWEEP)
	@echo $$(( $$(date +%s) - $$(cat $(SWEEP)/demo_started_s) )) > $(SWEEP)/demo_wall_s
	@echo "demo: $$(cat $(SWEEP)/demo_wall_s) s wall (training and analysis); make demo-readme SWEEP=$(SWEEP)"

demo-readme: SWEEP = $(LATEST_DEMO)
demo-readme: $(STAMP) ## Rewrite the README's demo section from a demo's analysis (SWEEP=, default: newest)
	@test -n "$(SWEEP)" || { echo "error: no multirun/demo_* folder: run make demo first, or pass SWEEP=DIR" >&2; exit 2; }
	$(PY) -m fashion_transfer.analysis.readme_demo $(SWEEP) --command "make demo DEMO_SEEDS=$(DEMO_SEEDS)"

tune-demo: synth ## Equal-effort tuning on FashionSynth: 5 strategies + 2 gray-stem variants x TUNE_TRIALS (2) x TUNE_SEEDS (0)
	@mkdir -p $(TUNE_SWEEP) && date +%s > $(TUNE_SWEEP)/demo_started_s
	$(PY) -m fashion_transfer.train -m experiment=tune_demo 'strategy=glob(*)' \
		'tune.trial=range(0,$(TUNE_TRIALS))' seed=$(TUNE_SEEDS) paths.synth_dir=$(SYNTH) \
		hydra.sweep.dir=$(TUNE_SWEEP)/learned $(DEMO_LAUNCH) $(ARGS)
	@# The free baseline of the learned 1->3 adapter: timm's gray stem, the same trials.
	$(PY) -m fashion_transfer.train -m experiment=tune_demo strategy=adapter_scratch,adapter_pretrained \
		transfer.input_adapter=timm_stem 'tune.trial=range(0,$(TUNE_TRIALS))' seed=$(TUNE_SEEDS) \
		paths.synth_dir=$(SYNTH) hydra.sweep.dir=$(TUNE_SWEEP)/timm_stem $(DEMO_LAUNCH) $(ARGS)
	$(PY) -m fashion_transfer.analyze $(TUNE_SWEEP)
	@echo $$(( $$(date +%s) - $$(cat $(TUNE_SWEEP)/demo_started_s) )) > $(TUNE_SWEEP)/demo_wall_s
	@echo "tune-demo: $$(cat $(TUNE_SWEEP)/demo_wall_s) s wall (training and analysis); make tune-readme SWEEP=$(TUNE_SWEEP)"

tune-readme: SWEEP = $(LATEST_TUNE)
tune-readme: $(STAMP) ## Rewrite the README's tuning outcome from a tune-demo's analysis (SWEEP=, default: newest)
	@test -n "$(SWEEP)" || { echo "error: no multirun/tune_demo_* folder: run make tune-demo first, or pass SWEEP=DIR" >&2; exit 2; }
	$(PY) -m fashion_transfer.analysis.readme_demo $(SWEEP) --section tune \
		--command "make tune-demo TUNE_TRIALS=$(TUNE_TRIALS) TUNE_SEEDS=$(TUNE_SEEDS)"

bench: $(STAMP) ## Benchmark the data paths against the model's own step (bench/bench.md; ~9 min here)
	$(PY) -m fashion_transfer.bench --out bench paths.data_dir=$(DATA) $(ARGS)

bench-quick: $(STAMP) ## The same benchmark in under 2 minutes (no time-to-accuracy)
	$(PY) -m fashion_transfer.bench --quick --out bench paths.data_dir=$(DATA) $(ARGS)

gpu-check: $(STAMP) ## On a GPU machine: CUDA tests, bench at 224 px, resnet50 sweep (<= 8 min; ARGS=--dry-run on a CPU)
	$(PY) -m fashion_transfer.bench.gpu_check --out gpu_check_$(shell date +%Y-%m-%d_%H-%M-%S) $(ARGS)

status: $(STAMP) ## Where a sweep stands, and how to resume it (SWEEP=dir; ARGS=--resume-command or --json)
	@if [ "$(SWEEP)" = "$(STAMPED_SWEEP)" ]; then \
		echo "error: make status needs SWEEP=<sweep or run folder>, e.g. SWEEP=multirun/<date>" >&2; exit 2; fi
	$(PY) -m fashion_transfer.status $(SWEEP) $(ARGS)

clean: ## Remove run outputs (keeps data and .venv)
	rm -rf outputs multirun
