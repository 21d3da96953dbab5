"""Option precedence: defaults < checkpoint sidecar < --config_path JSON < flags the user typed."""
import argparse
import json
import logging

import pytest

from uer.opts import infer_opts, model_opts
from uer.utils.config import parse_args
from uer.utils.errors import UserInputError


def parser_with_config():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config_path", default=None)
    parser.add_argument("--load_model_path", default=None)
    model_opts(parser)
    return parser


def write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_json_overrides_defaults_but_not_typed_flags(tmp_path):
    config = write(tmp_path / "c.json", {"hidden_size": 256, "layers_num": 4, "target": "mlm"})
    args = parse_args(parser_with_config(), ["--config_path", config, "--layers_num", "6"])
    assert args.hidden_size == 256  # from JSON
    assert args.layers_num == 6  # typed flag wins
    assert args.target == "mlm"
    assert args.heads_num == 12  # default untouched


def test_typed_flag_equal_to_default_still_wins(tmp_path):
    config = write(tmp_path / "c.json", {"dropout": 0.3})
    args = parse_args(parser_with_config(), ["--config_path", config, "--dropout", "0.1"])
    assert args.dropout == 0.1


def test_unknown_config_key_is_an_error_naming_the_closest_option(tmp_path):
    config = write(tmp_path / "c.json", {"hiden_size": 3})
    with pytest.raises(UserInputError, match=r"c.json: unknown option 'hiden_size' \(did you mean 'hidden_size'\?\)"):
        parse_args(parser_with_config(), ["--config_path", config])


def test_unknown_sidecar_key_is_warned_not_absorbed(tmp_path, caplog):
    model = tmp_path / "model.bin"
    model.write_bytes(b"")
    write(tmp_path / "model.bin.config.json", {"hiden_size": 3, "hidden_size": 64})
    with caplog.at_level(logging.WARNING):
        args = parse_args(parser_with_config(), ["--load_model_path", str(model)])
    assert not hasattr(args, "hiden_size") and args.hidden_size == 64
    assert "hiden_size" in caplog.text


@pytest.mark.parametrize("values, message", [
    ({"layers_num": "two"}, "key 'layers_num': expected an integer, got \"two\""),
    ({"layers_num": 2.5}, "expected an integer"),
    ({"dropout": "high"}, "key 'dropout': expected a number"),
    ({"tie_weights": "yes"}, "key 'tie_weights': expected true or false"),
    ({"encoder": "transformers"}, "key 'encoder': expected one of"),
    ({"hidden_size": None}, "null is not a setting"),
])
def test_mistyped_config_values_name_the_key(tmp_path, values, message):
    config = write(tmp_path / "c.json", values)
    with pytest.raises(UserInputError, match=message):
        parse_args(parser_with_config(), ["--config_path", config])


def test_config_strings_convert_like_typed_flags(tmp_path):
    config = write(tmp_path / "c.json", {"layers_num": "3", "dropout": 0, "attention_head_size": None})
    args = parse_args(parser_with_config(), ["--config_path", config])
    assert (args.layers_num, args.dropout, args.attention_head_size) == (3, 0.0, None)


def test_sidecar_then_config_then_flags(tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"")
    write(tmp_path / "model.bin.config.json", {"hidden_size": 64, "layers_num": 3, "encoder": "lstm"})
    config = write(tmp_path / "c.json", {"layers_num": 5})
    args = parse_args(parser_with_config(), ["--load_model_path", str(model), "--config_path", config,
                                             "--encoder", "gru"])
    assert (args.hidden_size, args.layers_num, args.encoder) == (64, 5, "gru")


def test_default_preset_is_skipped_when_a_sidecar_exists(tmp_path):
    model = tmp_path / "model.bin"
    model.write_bytes(b"")
    write(tmp_path / "model.bin.config.json", {"hidden_size": 64})
    parser = argparse.ArgumentParser()
    infer_opts(parser)
    args = parse_args(parser, ["--load_model_path", str(model), "--test_path", "t", "--prediction_path", "p"])
    assert args.hidden_size == 64 and args.layers_num == 12


def test_preset_names_architecture():
    args = parse_args(parser_with_config(), ["--config_path", "models/gpt2/config.json"])
    assert (args.embedding, args.mask, args.layernorm_positioning, args.target) == ("word_pos", "causal", "pre", "lm")
    assert args.tie_weights and args.remove_embedding_layernorm


def test_bad_json_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hidden_size": 3,\n oops}', encoding="utf-8")
    with pytest.raises(UserInputError, match=r"bad.json:2"):
        parse_args(parser_with_config(), ["--config_path", str(bad)])


def test_set_defaults_is_not_a_typed_flag(tmp_path):
    parser = parser_with_config()
    parser.set_defaults(target="lm")
    config = write(tmp_path / "c.json", {"target": "mlm"})
    assert parse_args(parser, ["--config_path", config]).target == "mlm"
