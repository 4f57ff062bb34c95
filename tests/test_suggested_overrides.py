"""Every `key=value` the suite tells a user to type composes: the ones in its messages (string
constants of src/, docstrings left out) and the train command lines and code spans of the README.

A suggestion is a token `key=value` whose key starts at the root of the train config (a root key,
a config group such as `dataset@target`, or `hydra`); `dataset.<key>` in a loader's message is
typed `source.<key>` or `target.<key>` (errors.in_slot), so both are composed. A placeholder value
(`...`) stands for the user's own and is left out; `N`, `DIR`, `PATH`, `FOLDER` become a sample.
The README's examples of input the suite refuses are listed in REFUSED, and they must still fail.
"""

from __future__ import annotations

import ast
import itertools
import re
import shlex
from dataclasses import fields
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from fashion_transfer.conf import CONF_DIR
from fashion_transfer.conf.schema import DeepFashionConfig, FashionMNISTConfig
from fashion_transfer.errors import ConfigError
from fashion_transfer.preflight import MULTIRUN, compose_jobs, sweep_jobs

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "fashion_transfer"
TOKEN = re.compile(r"(?<![\w.\-/{$])([+~]*[a-z_]\w*(?:[.@/][a-z_]\w*)*)=([^\s`'\"]*)")
SAMPLES = {"N": "1", "DIR": "somewhere", "PATH": "somewhere.pth", "FOLDER": "somewhere"}
KINDS = {"deepfashion": DeepFashionConfig, "fashion_mnist": FashionMNISTConfig}
# What a line leaves to its context: the README names these keys where the choice is made.
CONTEXT = {
    "hydra.launcher.": "hydra/launcher=submitit_slurm",  # the README's Slurm section
    "tune.": "experiment=tune",
}
# README spans that show input the suite refuses (its bad-input section), with what it says.
REFUSED = {
    "strategy=foo": "strategy=foo: there is no conf/strategy/foo.yaml",
    "-m seed=0,l": "seed=l: must be a whole number",
    "train.amp=off": "train.amp=off: choose auto, true or false",
}


def _roots() -> set[str]:
    """Names a suggestion's key may start with: the root config's keys and the config groups."""
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")}
    lines = (CONF_DIR / "config.yaml").read_text().splitlines()
    root = {m.group(1) for m in map(re.compile(r"([a-z_]+):").match, lines) if m}
    return groups | root | {"source", "target", "backbone", "strategy", "model", "tune"}


ROOTS = _roots()


def _value(raw: str) -> str | None:
    """The value as typed: sentence punctuation after it dropped, placeholders resolved."""
    value = raw.rstrip(".,:;")
    while value.endswith(")") and value.count(")") > value.count("("):
        value = value[:-1].rstrip(".,:;")
    if not value or value.startswith("..."):
        return None
    return SAMPLES.get(value, value)


def _overrides(text: str) -> list[str]:
    """The suggestions in one message, span or command line, in order."""
    out = []
    for match in TOKEN.finditer(text):
        key, value = match.group(1), _value(match.group(2))
        head = re.split(r"[.@/]", key.lstrip("+~"), maxsplit=1)[0]
        if value is not None and head in ROOTS | {"hydra"}:
            out.append(f"{key}={value}")
    return out


def _lines(text: str) -> list[tuple[str, ...]]:
    """The command lines a span or command stands for: `-m` kept, and one line per alternative
    of `a|b` (`model@backbone=resnet|efficientnet_lite0`)."""
    for cli in ("python -m fashion_transfer.train", "fashion-transfer-train"):
        text = text.split(cli, 1)[-1]
    mode = tuple(a for a in MULTIRUN if f" {a} " in f" {text} ")[:1]
    choices = [
        [f"{o.split('=', 1)[0]}={v}" for v in o.split("=", 1)[1].split("|")]
        for a in shlex.split(text)
        for o in _overrides(a)
    ]
    return [mode + line for line in itertools.product(*choices)] if choices else []


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, nodes)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _in_slots(override: str) -> list[tuple[str, ...]]:
    """`dataset.key=v` as typed for each slot that can hold a data set with that key."""
    key = override.split("=", 1)[0].split(".")[1]
    kinds = [name for name, schema in KINDS.items() if key in {f.name for f in fields(schema)}]
    return [
        (f"dataset@{slot}={kind}", override.replace("dataset.", f"{slot}.", 1))
        for slot in ("source", "target")
        for kind in kinds or ["deepfashion"]
    ]


def source_suggestions() -> list[tuple[str, ...]]:
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        skip = _docstrings(tree)
        strings = [
            n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in skip
        ]
        for override in (o for s in strings if isinstance(s, str) for o in _overrides(s)):
            if override.startswith("dataset."):  # a loader's message (errors.in_slot)
                found.update(_in_slots(override))
            else:
                found.add((override,))
    return sorted(found)


def readme_suggestions() -> list[tuple[str, ...]]:
    """Each train command line of the README's code blocks, and each code span outside them."""
    text = (REPO / "README.md").read_text()
    found = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #", 1)[0]
            if "fashion_transfer.train" in command or "fashion-transfer-train" in command:
                found.extend(_lines(command))
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    for span in re.findall(r"`([^`\n]+)`", outside):
        if not span.startswith("error:") and span not in REFUSED:
            found.extend(_lines(span))
    return sorted(set(found))


def _compose(line: tuple[str, ...]) -> None:
    """Compose the line's jobs, as the train command would (a sweep: enough jobs that every
    override of the expansion is composed at least once)."""
    overrides = [o for o in line if o not in MULTIRUN]
    for prefix, choice in CONTEXT.items():
        group = choice.split("=", 1)[0]
        chosen = any(o.startswith(f"{group}=") for o in overrides)
        if not chosen and any(o.startswith(prefix) for o in overrides):
            overrides.insert(0, choice)
    GlobalHydra.instance().clear()
    try:
        sweep = len(overrides) < len(line) or any(
            o.is_sweep_override() for o in OverridesParser.create().parse_overrides(overrides)
        )
        seen: set[str] = set()
        for job in sweep_jobs(CONF_DIR, overrides) if sweep else [overrides]:
            if set(job) - seen:
                seen.update(job)
                compose_jobs(job, CONF_DIR, multirun=False)
    finally:
        GlobalHydra.instance().clear()


def test_the_collectors_find_the_suggestions():
    """A collector that finds nothing would pass everything: known suggestions are found."""
    source = source_suggestions()
    assert {("device=cpu",), ("overwrite=true",), ("hydra.run.dir=NEW_DIR",)} <= set(source)
    assert ("dataset@target=deepfashion", "target.view=fmnist") in source
    assert "strategy/adapter_long.yaml" in readme_user_configs()
    readme = readme_suggestions()
    assert ("-m", "strategy=glob(*)", "seed=0,1,2", "hydra/launcher=joblib") in readme
    assert ("model@backbone=efficientnet_lite0",) in readme and len(readme) > 20


@pytest.mark.parametrize("line", source_suggestions(), ids=" ".join)
def test_every_suggestion_in_a_message_composes(line):
    _compose(line)


def readme_user_configs() -> dict[str, str]:
    """The README's example configs of a user's conf/ folder: relative path -> YAML."""
    text = (REPO / "README.md").read_text()
    found = re.findall(r"`conf/([\w/]+\.yaml)`:\n\n```yaml\n(.*?)```", text, re.S)
    return dict(found)


@pytest.mark.parametrize("line", readme_suggestions(), ids=" ".join)
def test_every_readme_override_composes(line, monkeypatch, tmp_path):
    for relative, body in readme_user_configs().items():  # the README's own conf/ examples
        (tmp_path / "conf" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "conf" / relative).write_text(body)
    monkeypatch.chdir(tmp_path)  # run folders the README names are not there
    monkeypatch.delenv("FASHION_TRANSFER_CONF", raising=False)
    _compose(line)


@pytest.mark.parametrize("span", sorted(REFUSED))
def test_the_readmes_refused_examples_are_still_refused(span, tiny_synth):
    from fashion_transfer.preflight import check_command_line

    assert f"`{span}`" in (REPO / "README.md").read_text(), "REFUSED lists a span the README lost"
    GlobalHydra.instance().clear()
    argv = ["experiment=smoke", f"paths.synth_dir={tiny_synth}", *shlex.split(span)]
    with pytest.raises(ConfigError, match=re.escape(REFUSED[span])):
        check_command_line(argv, CONF_DIR)
