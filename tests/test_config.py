"""The configuration: defaults, validation, original spellings and the generated command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import Config, ConfigError

PARITY = json.loads((Path(__file__).parent / "fixtures" / "csta_parity.json").read_text())


def test_defaults_are_the_papers():
    config = Config()
    assert (config.seed, config.epochs, config.learning_rate, config.weight_decay) == (123456, 100, 1e-3, 1e-7)
    assert config.model_options() == PARITY["variants"]["default"]["config"] | {"Dropout_ratio": 0.6}
    assert config.group_size(25, 20) == 1


@pytest.mark.parametrize("variant", list(PARITY["variants"]))
def test_from_original_reads_the_originals_options(variant):
    options = PARITY["variants"][variant]["config"]
    config = Config.from_original(options)
    for name, value in options.items():
        expected = float(value) if name == "Dropout_ratio" else value
        assert getattr(config, name) == expected


def test_from_original_reads_string_values_and_ignores_video_options():
    config = Config.from_original({"Softmax_axis": "None", "CLS_on": "false", "Dropout_ratio": "0.5",
                                   "learning_rate": "1e-4", "epochs": "3", "file_path": "./SumMe/Jumps.mp4"})
    assert config.Softmax_axis is None and config.CLS_on is False
    assert (config.Dropout_ratio, config.learning_rate, config.epochs) == (0.5, 1e-4, 3)


@pytest.mark.parametrize("options,message", [
    ({"Softmax_axis": "X"}, "Softmax_axis: 'X' is not one of 'T', 'D', 'TD', None"),
    ({"model_name": "VGG"}, "model_name: 'VGG' is not one of"),
    ({"Dropout_ratio": 1.5}, "Dropout_ratio: must be in [0, 1)"),
    ({"epochs": 0}, "epochs: expected an integer >= 1"),
    ({"learning_rate": -1.0}, "learning_rate: must be a positive number"),
    ({"batch_size": "0"}, "batch_size: expected '1' or a fraction > 0"),
    ({"batch_size": "-0.5"}, "batch_size: expected '1' or a fraction > 0"),
    ({"batch_size": "half"}, "batch_size: expected '1' or a fraction"),
    ({"splits": (0, 6)}, "splits: expected split numbers 1, 2, ..."),
    ({"datasets": ("OVP",)}, "datasets: 'OVP' is not one of"),
    ({"selection": "map30"}, "selection: 'map30' is not one of"),
    ({"videos_per_step": -1}, "videos_per_step: expected an integer >= 0"),
    ({"datasets": ("YouTube",)}, "datasets: 'YouTube' is not one of"),
    ({"device": "gpu"}, "device: 'gpu' is not"),
    ({"CLS_on": "yes"}, "CLS_on: expected true or false"),
    ({"Positional_encoding_shape": None}, "Positional_encoding_shape: must be 'T' or 'TD'"),
    ({"model_name": "ResNet_Attention", "Positional_encoding_way": "Transformer"}, "only fits GoogleNet"),
    ({"model_name": "ResNet_Attention", "key_value_emb": None}, "Skip_connection: 'KC' adds the 1024-wide key"),
    ({"model_name": "ResNet_Attention", "key_value_emb": "k"}, "use key_value_emb 'v' or 'kv'"),
    ({"Skip_connection": "IF", "CLS_mix": "SM"}, "Skip_connection: 'IF'"),
    ({"Softmax_axis": None, "CLS_mix": "SM"}, "CLS_mix: 'SM' folds"),
    ({"CLS_mix": None}, "CLS_mix: must be"),
])
def test_impossible_values_are_errors_naming_the_option(options, message):
    with pytest.raises(ConfigError) as error:
        Config(**options)
    assert message in str(error.value)


def test_batch_fraction_groups_videos_like_the_original():
    config = Config(batch_size="0.1")
    assert config.group_size(25, 20) == 2 and config.group_size(50, 40) == 4
    assert Config(batch_size="1.0").group_size(25, 20) == 20


@pytest.mark.parametrize("fraction", ["0.04", "1.5", "3"])
def test_fractions_the_original_never_reaches_make_one_step_per_epoch(fraction):
    # int(25 * 0.8 * 0.04) == 0 and 1.5 x 20 > 20: the original's running count never equals the group
    # size, so all 20 training videos are averaged into one step at the end of the epoch.
    assert Config(batch_size=fraction).group_size(25, 20) == 20


def test_videos_per_step_overrides_the_fraction():
    assert Config(batch_size="0.1", videos_per_step=3).group_size(25, 20) == 3
    assert Config(videos_per_step=50).group_size(25, 20) == 20

def test_command_line_takes_both_spellings():
    config = Config.parse(["--Softmax_axis", "T", "--cls-on", "false", "--no-pretrained", "--splits", "1", "3",
                           "--Positional_encoding", "None", "--epochs", "7"])
    assert (config.Softmax_axis, config.CLS_on, config.pretrained, config.splits) == ("T", False, False, (1, 3))
    assert config.Positional_encoding is None and config.epochs == 7


def test_command_line_reports_invalid_values(capsys):
    with pytest.raises(SystemExit):
        Config.parse(["--Balance", "X"])
    assert "Balance: 'X' is not one of" in capsys.readouterr().err


def test_round_trip_through_dict():
    config = Config(Softmax_axis="T", splits=(2,), datasets=("TVSum",))
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ConfigError, match="unknown option"):
        Config.from_dict({"softmax": "T"})


def test_unused_relative_or_learnable_encoding_needs_no_shape_like_the_original():
    for encoding in ("RPE", "LPE"):
        config = Config(Positional_encoding=encoding, Positional_encoding_shape=None, Positional_encoding_way=None)
        assert config.Positional_encoding_shape is None
    with pytest.raises(ConfigError, match="Positional_encoding_shape"):
        Config(Positional_encoding="RPE", Positional_encoding_shape=None)


def test_softmax_fold_pools_the_input_to_the_maps_width_like_the_original():
    config = Config(model_name="ResNet_Attention", key_value_emb=None, CLS_mix="SM", Skip_connection="CF")
    assert config.dim == 512
