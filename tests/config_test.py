"""Recipes, flag overrides and hyperparameter checks."""

import json
import os

import pytest

from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen.engine import strategies


def test_hparams_text_parses_into_name_value_pairs():
  assert config_lib.parse_hparams("latent_dim=64, loss=minimax") == {
      "latent_dim": "64", "loss": "minimax"}
  assert config_lib.parse_hparams("") == {}


def test_hparam_strings_take_the_type_of_their_defaults():
  defaults = {"latent_dim": 100, "rate": 1e-3, "ema": False, "loss": "hinge"}
  resolved = config_lib.resolve_hparams(
      "m", defaults, {"latent_dim": "64", "rate": "2e-4", "ema": "true", "loss": "minimax"})
  assert resolved == {"latent_dim": 64, "rate": 2e-4, "ema": True, "loss": "minimax"}


def test_unknown_hparam_names_the_valid_ones():
  with pytest.raises(config_lib.ConfigError, match=r"Unknown hyperparameter\(s\) latnt_dim "
                     r"for model 'm'; valid: latent_dim\."):
    config_lib.resolve_hparams("m", {"latent_dim": 1}, {"latnt_dim": "2"})


@pytest.mark.parametrize("field,value,message", [
    ("strategy", "gpu", "--strategy='gpu' is not one of"),
    ("train_steps", 0, "--train_steps must be a positive integer"),
    ("xla", True, "--xla compiles the whole per-replica step"),
    ("xla", "yes", "xla='yes' is not true, false or \"auto\""),
    ("xla", 1, "xla=1 is not true, false or \"auto\""),
    ("cpu_replicas", 2, "--cpu_replicas=2 only makes sense with --strategy=mirrored"),
    ("resolution", 48, "--resolution must be a power of two"),
    ("model_dir", "", "--model_dir is required"),
])
def test_validate_rejects_bad_values_with_one_sentence(field, value, message):
  config = config_lib.TrainConfig(model_dir="/tmp/x")
  if field == "xla" and value is True:
    config.strategy = "mirrored"
  setattr(config, field, value)
  with pytest.raises(config_lib.ConfigError, match=message.replace("(", r"\(")):
    config_lib.validate(config)


def test_xla_auto_with_several_replicas_is_valid_and_resolves_to_no_xla():
  config = config_lib.TrainConfig(model_dir="/tmp/x", strategy="mirrored", xla="auto")
  config_lib.validate(config)  # Where xla=True is refused (above).
  assert strategies.choose_xla(config).xla is False


def test_a_typed_noxla_overrides_a_recipes_auto():
  assert config_lib.make_config("dcgan_fashion_mnist").xla == "auto"
  assert config_lib.make_config("dcgan_fashion_mnist", {"xla": False}).xla is False


def test_every_zoo_recipe_names_a_model_and_resolves_its_hparams():
  names = config_lib.recipe_names()
  assert "dcgan_fashion_mnist" in names and "autoencoder_fashion_mnist" in names
  for name in names:
    recipe = config_lib.load_recipe(name)
    family, presets = registry.get_family(recipe["model"])
    overrides = dict(presets)
    overrides.update(recipe.get("hparams", {}))
    config_lib.resolve_hparams(recipe["model"], family.DEFAULT_HPARAMS, overrides)
    with open(config_lib.recipe_path(name)) as f:
      document = json.load(f)
    assert f"--recipe={name}" in document["command"]
    assert "measured" in document


def test_recipe_path_accepts_a_file_and_rejects_garbage(tmp_path):
  path = tmp_path / "r.json"
  path.write_text("{not json")
  assert config_lib.recipe_path(str(path)) == str(path)
  with pytest.raises(config_lib.ConfigError, match="is not valid JSON"):
    config_lib.load_recipe(str(path))
  assert os.path.isdir(config_lib.ZOO_DIR)


def test_make_config_layers_defaults_recipe_and_settings_name_by_name(tmp_path):
  recipe = tmp_path / "r.json"
  recipe.write_text(json.dumps({"config": {
      "model": "vae", "train_steps": 100, "batch_size": 32, "metric_options": {"iwae_samples": 10},
      "hparams": {"latent_dim": 8, "beta": 2.0}}}))

  config = config_lib.make_config(str(recipe), {
      "train_steps": 5, "hparams": "latent_dim=4", "metric_options": {"images_per_batch": 7}})

  assert (config.model, config.train_steps, config.batch_size) == ("vae", 5, 32)
  assert config.hparams == {"latent_dim": "4", "beta": 2.0}
  assert config.metric_options == {"iwae_samples": 10, "images_per_batch": 7}
  assert config.seed == config_lib.TrainConfig().seed


def test_make_config_names_an_unknown_setting_and_the_valid_ones():
  with pytest.raises(config_lib.ConfigError, match=r"Settings sets unknown fields: \['steps'\]; "
                     r"valid: \[.*'train_steps'"):
    config_lib.make_config(None, {"steps": 5})


def test_every_recipes_snapshot_metrics_exist_and_apply_to_its_model():
  from keras_gen import metrics as metrics_lib
  from keras_gen import serving
  from keras_gen.metrics import evaluation
  for name in config_lib.recipe_names():
    config = config_lib.make_config(name, {"model_dir": "unused"})
    if not config.metrics:
      continue
    evaluation.SnapshotMetrics().check(config)
    family, _ = registry.get_family(config.model)
    kind = serving.output_kind(family, [2] if config.dataset in ("ring8", "grid25") else [1, 1, 1])
    for metric in config.metrics:
      assert kind in metrics_lib.get_metric(metric)[1], (name, metric)


def test_a_name_given_twice_is_refused_naming_the_flag_it_came_from():
  with pytest.raises(config_lib.ConfigError) as raised:
    config_lib.parse_hparams("latent_dim=5, latent_dim=6")
  assert str(raised.value) == ("--hparams sets latent_dim twice (latent_dim=5 and latent_dim=6); "
                               "give each name once.")
  with pytest.raises(config_lib.ConfigError) as raised:
    config_lib.make_config(None, {"metric_options": "garbage"})
  assert str(raised.value) == "--metric_options item 'garbage' is not of the form name=value."


@pytest.mark.parametrize("overrides,message", [
    ({"rate": "nan"}, "Hyperparameter rate=nan is not a finite number."),
    ({"rate": float("-inf")}, "Hyperparameter rate=-inf is not a finite number."),
    ({"sizes": "1:nan"}, "Hyperparameter sizes=[1.0, nan] is not a finite number."),
    ({"width": "2147483648"}, "Hyperparameter width=2147483648 is beyond int32 (at most "
                              "2147483647)."),
    ({"width": 6.5}, "Hyperparameter width=6.5 is not a valid int."),
    ({"width": True}, "Hyperparameter width=True is not a valid int."),
    ({"ema": 1}, "Hyperparameter ema=1 is not a valid bool."),
    ({"g_learning_rate": "-1"},
     "Hyperparameter g_learning_rate=-1.0 is a learning rate: it must be above 0."),
    ({"g_learning_rate": 0}, "Hyperparameter g_learning_rate=0 is a learning rate: it must be "
                             "above 0."),
])
def test_hparam_values_no_family_can_use_are_refused(overrides, message):
  defaults = {"rate": 0.5, "sizes": [1.0], "width": 4, "ema": False, "g_learning_rate": 1e-3}
  with pytest.raises(config_lib.ConfigError) as raised:
    config_lib.resolve_hparams("m", defaults, overrides)
  assert str(raised.value) == message


def test_an_integer_fits_a_float_hparam():
  assert config_lib.resolve_hparams("m", {"kimg": 600.0}, {"kimg": 30}) == {"kimg": 30}


@pytest.mark.parametrize("text,message", [
    ("[1, 2]", "holds a JSON list, not an object with a 'config' object."),
    ('"config"', "holds a JSON string, not an object with a 'config' object."),
    ('{"config": {"model": "vae", "model": "gan"}}', "sets 'model' twice; give each name once."),
])
def test_a_recipe_that_is_not_a_config_object_is_named(tmp_path, text, message):
  path = tmp_path / "r.json"
  path.write_text(text)
  with pytest.raises(config_lib.ConfigError) as raised:
    config_lib.load_recipe(str(path))
  assert str(raised.value) == f"Recipe {path} {message}"


@pytest.mark.parametrize("field,value,problem", [
    ("batch_size", "64", "batch_size is '64', not an integer"),
    ("batch_size", 6.0, "batch_size is 6.0, not an integer"),
    ("deterministic", "yes", "deterministic is 'yes', not true or false"),
    ("metrics", "fcd", "metrics is 'fcd', not a list"),
    ("model", 3, "model is 3, not a string"),
    ("xla", 1, 'xla is 1, not true, false or "auto"'),
    ("hparams", 5, "hparams is 5, not an object (or a 'name=value,...' string)"),
])
def test_a_recipe_field_of_the_wrong_type_is_named(tmp_path, field, value, problem):
  path = tmp_path / "r.json"
  path.write_text(json.dumps({"config": {field: value}}))
  with pytest.raises(config_lib.ConfigError) as raised:
    config_lib.make_config(str(path))
  assert str(raised.value) == f"Recipe {path}: {problem}."


@pytest.mark.parametrize("field,value,message", [
    ("batch_size", 2 ** 31, "--batch_size=2147483648 is beyond int32 (at most 2147483647)."),
    ("resolution", 2 ** 32, "--resolution=4294967296 is beyond int32 (at most 2147483647)."),
    ("seed", -1, "--seed must be between 0 and 4294967295, got -1."),
    ("seed", 2 ** 32, "--seed must be between 0 and 4294967295, got 4294967296."),
])
def test_validate_refuses_integers_tensorflow_and_numpy_cannot_take(field, value, message):
  config = config_lib.TrainConfig(model_dir="/tmp/x", **{field: value})
  with pytest.raises(config_lib.ConfigError) as raised:
    config_lib.validate(config)
  assert str(raised.value) == message
