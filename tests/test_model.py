"""CSTA against the original implementation's outputs, checkpoints and limits."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.models._api as torchvision_weights_api

from config import Config
from model import BACKBONES, PretrainedWeightsUnavailable, build_model, count_parameters, describe_parameters
from model.pooling import _DeterministicAdaptiveAvgPool2d
from model.positional import relative_table, sinusoid_table
from tests.weight_fill import filled_state_dict, fixture_input

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = json.loads((FIXTURES / "csta_parity.json").read_text())
OUTPUTS = np.load(FIXTURES / "csta_parity_outputs.npz")
VARIANTS = PARITY["variants"]


@pytest.fixture(scope="module")
def filled_models():
    """One model per fixture variant, with the fixture's weights loaded strictly."""
    torch.manual_seed(0)
    models = {}
    for name, variant in VARIANTS.items():
        model = build_model(Config.from_original(variant["config"]), pretrained=False).eval()
        state = filled_state_dict(variant["state_dict"], set(variant["constant_buffers"]), model.state_dict())
        model.load_state_dict(state, strict=True)
        models[name] = model
    return models


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_state_dict_has_the_originals_keys_and_shapes(variant):
    model = build_model(Config.from_original(VARIANTS[variant]["config"]), pretrained=False)
    own = {name: list(t.shape) for name, t in model.state_dict().items()}
    assert own == VARIANTS[variant]["state_dict"]
    assert model.cnn_attribute == VARIANTS[variant]["cnn_module"]


@pytest.mark.parametrize("variant,steps", [(v, t) for v in VARIANTS for t in PARITY["lengths"]])
def test_scores_match_the_original(filled_models, variant, steps):
    model = filled_models[variant]
    captured = {}
    handle = model.cnn.register_forward_hook(lambda module, inputs, output: captured.update(cnn=output))
    try:
        with torch.no_grad():
            scores = model(torch.from_numpy(fixture_input(steps))).numpy()
    finally:
        handle.remove()
    expected = OUTPUTS[f"{variant}/T{steps}"]
    assert scores.shape == (steps,)
    np.testing.assert_allclose(scores, expected, atol=1e-5, rtol=0)
    cnn_key = f"{variant}/T{steps}/cnn"
    if cnn_key in OUTPUTS.files:
        np.testing.assert_allclose(captured["cnn"].numpy(), OUTPUTS[cnn_key], atol=1e-4, rtol=0)


def test_the_originals_four_dimensional_input_gives_the_same_scores(filled_models):
    model = filled_models["default"]
    x = torch.from_numpy(fixture_input(17))
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x[None].expand(3, -1, -1)[None]), atol=1e-6, rtol=0)


def test_checkpoint_with_the_originals_keys_loads_strictly_and_round_trips(tmp_path):
    variant = VARIANTS["default"]
    model = build_model(Config(), pretrained=False)
    state = filled_state_dict(variant["state_dict"], set(variant["constant_buffers"]), model.state_dict())
    path = tmp_path / "split1.pt"
    torch.save(state, path)
    model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)
    saved = model.state_dict()
    assert set(saved) == set(state)
    for name, value in state.items():
        assert torch.equal(saved[name], value), name


@pytest.mark.parametrize("steps", [1, 2, 5, 13, 14])
def test_short_videos_give_finite_scores(steps):
    model = build_model(Config(), pretrained=False).eval()
    with torch.no_grad():
        scores = model(torch.rand(steps, 1024))
    assert scores.shape == (steps,)
    assert torch.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()


def test_short_videos_train_without_error():
    model = build_model(Config(), pretrained=False).train()
    scores = model(torch.rand(3, 1024))
    torch.nn.functional.mse_loss(scores, torch.rand(3)).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.slow
def test_videos_longer_than_the_positional_table_give_finite_scores():
    model = build_model(Config(CLS_on=False), pretrained=False).eval()
    with torch.no_grad():
        scores = model(torch.rand(6000, 1024))
    assert scores.shape == (6000,) and torch.isfinite(scores).all()


def test_fixed_encoding_beyond_5000_rows_continues_the_same_table():
    short = sinusoid_table(5000, 64, "TD")
    long = sinusoid_table(6001, 64, "TD")
    assert torch.equal(long[:5000], short)
    assert torch.allclose(long[6000, 0], torch.sin(torch.tensor(6000.0)))


def test_relative_encoding_leaves_the_last_row_of_an_odd_length_empty():
    table = relative_table(5, 8, "TD")
    assert torch.equal(table[-1], torch.zeros(8))
    assert table[0, 0] == torch.sin(torch.tensor(4.0))


@pytest.mark.parametrize("cnn,steps", [("ResNet_Attention", 1), ("EfficientNet_Attention", 2),
                                       ("MobileNet_Attention", 3), ("GoogleNet", 4)])
def test_every_cnn_scores_short_videos(cnn, steps):
    model = build_model(Config(model_name=cnn), pretrained=False).eval()
    with torch.no_grad():
        scores = model(torch.rand(steps, 1024))
    assert scores.shape == (steps,) and torch.isfinite(scores).all()


@pytest.mark.parametrize("name,spec", list(BACKBONES.items()))
def test_minimum_rows_is_the_cnns_real_limit(name, spec):
    network = build_model(Config(model_name={"googlenet": "GoogleNet_Attention", "resnet18": "ResNet_Attention",
                                             "efficientnet_b0": "EfficientNet_Attention",
                                             "mobilenet_v2": "MobileNet_Attention"}[name]),
                          pretrained=False).cnn.eval()
    with torch.no_grad():
        x = torch.rand(1, 3, spec.min_rows, 64)
        for layer in spec.trunk:
            x = getattr(network, layer)(x)
        if spec.min_rows > 1:
            with pytest.raises(RuntimeError):
                x = torch.rand(1, 3, spec.min_rows - 1, 64)
                for layer in spec.trunk:
                    x = getattr(network, layer)(x)


def test_offline_weights_error_names_the_file_folder_and_flag(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision_weights_api, "load_state_dict_from_url", no_network)
    with pytest.raises(PretrainedWeightsUnavailable) as error:
        build_model(Config(), pretrained=True)
    message = str(error.value)
    expected_file = tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    assert str(expected_file) in message
    assert "https://download.pytorch.org/models/googlenet-1378be20.pth" in message
    assert "--no-pretrained" in message
    assert "GoogLeNet_Weights.IMAGENET1K_V1" in message


def test_weights_placed_where_the_error_says_are_loaded_into_the_cnn(monkeypatch, tmp_path):
    """A file in torchvision's format (aux heads included) at the named path fills every CNN entry."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = build_model(Config(), pretrained=False)
    imagenet = {name: torch.randn_like(t.float()).to(t.dtype)
                for name, t in reference.cnn.state_dict().items()}
    imagenet["aux1.fc1.weight"] = torch.zeros(1024, 2048)
    path = tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth"
    path.parent.mkdir(parents=True)
    torch.save(imagenet, path)
    model = build_model(Config(), pretrained=True)
    for name, value in model.cnn.state_dict().items():
        assert torch.equal(value, imagenet[name]), name


def test_parameter_count_excludes_only_the_cnns_classifier():
    model = build_model(Config(), pretrained=False)
    total = sum(p.numel() for p in model.parameters())
    classifier = sum(p.numel() for p in model.cnn.fc.parameters())
    assert count_parameters(model) == total - classifier
    assert describe_parameters(model).startswith(f"PARAMS: {(total - classifier) / 2**20:.2f}M")


def test_deterministic_pooling_gradient_equals_pytorchs():
    x = torch.rand(1, 7, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: _DeterministicAdaptiveAvgPool2d.apply(t, 11, 1), (x,))
    grad = torch.rand(1, 7, 11, 1, dtype=torch.float64)
    ours = torch.autograd.grad(_DeterministicAdaptiveAvgPool2d.apply(x, 11, 1), x, grad)[0]
    native = torch.autograd.grad(torch.nn.functional.adaptive_avg_pool2d(x, (11, 1)), x, grad)[0]
    torch.testing.assert_close(ours, native)


def test_wrong_feature_width_is_a_clear_error():
    model = build_model(Config(), pretrained=False).eval()
    with pytest.raises(ValueError, match=r"\(T, 1024\)"):
        model(torch.rand(10, 512))


@pytest.mark.parametrize("options,present,absent", [
    ({"Positional_encoding": "LPE", "Positional_encoding_shape": None, "Positional_encoding_way": None},
     set(), {"Positional_encoding_op.pe"}),
    ({"model_name": "ResNet_Attention", "key_value_emb": None, "CLS_mix": "SM", "Skip_connection": "CF",
      "Softmax_axis": "T"}, {"layernorm2.weight"}, {"value_embedding.weight"}),
])
def test_combinations_the_original_runs_are_accepted_and_score(options, present, absent):
    model = build_model(Config(**options), pretrained=False).eval()
    keys = set(model.state_dict())
    assert present <= keys and not absent & keys
    with torch.no_grad():
        scores = model(torch.rand(20, 1024))
    assert scores.shape == (20,) and torch.isfinite(scores).all()
