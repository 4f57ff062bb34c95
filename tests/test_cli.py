"""The argparse entrypoints' shared pieces: argument types, the output-folder check, devices."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from fashion_transfer import cli
from fashion_transfer.errors import ConfigError, UserError
from fashion_transfer.utils import pick_device


@pytest.mark.parametrize(
    ("convert", "text", "says"),
    [
        (cli.positive_int, "0", ">= 1"),
        (cli.positive_int, "1.5", "whole number"),
        (cli.non_negative_int, "-1", ">= 0"),
        (cli.non_negative_float, "-0.5", ">= 0"),
        (cli.non_negative_float, "inf", "finite"),
        (cli.fraction, "5", "between 0 and 1"),
        (cli.fraction, "nan", "finite"),
        (cli.path_arg, " ", "empty"),
    ],
)
def test_argument_types_reject_nonsense(convert, text, says):
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        convert(text)


def test_argument_types_pass_sensible_values(tmp_path):
    assert cli.positive_int("3") == 3 and cli.non_negative_int("0") == 0
    assert cli.fraction("0") == 0 and cli.fraction("1") == 1 and cli.fraction("0.01") == 0.01
    assert cli.path_arg(str(tmp_path)) == tmp_path


def test_usage_errors_are_one_line_with_exit_2(capsys):
    parser = cli.ArgumentParser(prog="prog")
    parser.add_argument("--n", type=cli.positive_int)
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--n", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err == "error: argument --n: expected a whole number >= 1, got 0 (see prog --help)\n"


def test_output_folder_check_creates_nothing(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        cli.check_output_folder(tmp_path / "file")
    with pytest.raises(UserError, match="is a file, so no folder can be made under it"):
        cli.check_output_folder(tmp_path / "file" / "out")
    assert cli.check_output_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_folder_check_refuses_a_read_only_folder(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(UserError, match="not writable"):
        cli.check_output_folder(tmp_path / "ro" / "out", "--out")


def test_devices_the_machine_lacks_are_config_errors():
    with pytest.raises(ConfigError, match=r"^device=gpu: not a device"):
        pick_device("gpu")
    with pytest.raises(ConfigError, match=r"^--device cuda:99: "):
        pick_device("cuda:99", "--device")
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_names_the_option():
    with pytest.raises(ConfigError, match=r"^--device cuda: no CUDA device here; use auto or cpu"):
        pick_device("cuda", "--device")
