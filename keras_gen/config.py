"""The training configuration (`TrainConfig`): defaults, then a zoo recipe, then the flags;
its resolved form is written to model_dir/config.json."""

import dataclasses
import json
import math
import os

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")
MIXED_PRECISION = ("none", "auto", "mixed_bfloat16", "mixed_float16")
ON_NONFINITE = ("skip", "restore")
ZOO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo")
# TensorFlow's shapes are int32: a larger batch or width fails deep inside it.
INT32_MAX = 2 ** 31 - 1
SEED_MAX = 2 ** 32 - 1  # numpy's (keras.utils.set_random_seed seeds numpy with it).


class ConfigError(ValueError):
  """A flag, recipe or hyperparameter the user got wrong; the message says which."""


@dataclasses.dataclass
class TrainConfig:
  """Everything one training run needs; field names match the train flags."""
  model: str = "dcgan"
  dataset: str = "fashion_mnist"
  model_dir: str = ""
  data_dir: str = ""
  train_steps: int = 1000
  batch_size: int = 64  # Global: split evenly across replicas.
  strategy: str = "default"
  cpu_replicas: int = 0  # 0 leaves the CPU as one device.
  tpu: str = ""
  seed: int = 0
  xla: bool | str = False  # Or "auto": strategies.choose_xla.
  mixed_precision: str = "none"
  deterministic: bool = False
  on_nonfinite: str = "skip"  # What a NaN/inf loss does: skip the update or restore.
  checkpoint_every: int = 500
  summary_every: int = 100
  log_every: int = 50
  keep_checkpoints: int = 3
  export_dir: str = ""  # Empty: model_dir/export.
  resolution: int = 0  # Image side: folders default to 64; the MNISTs are zero-padded to it.
  metrics: list = dataclasses.field(default_factory=list)  # Evaluated at each checkpoint.
  metric_samples: int = 5000
  metric_options: dict = dataclasses.field(default_factory=dict)
  hparams: dict = dataclasses.field(default_factory=dict)
  allow_changes: bool = False
  # Set by the engine from the dataset, not by a flag.
  element_shape: list = dataclasses.field(default_factory=list)

  def to_json(self):
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def recipe_path(recipe):
  """Resolves `--recipe`: a path to a JSON file, or the name of one in zoo/."""
  if os.path.isfile(recipe):
    return recipe
  candidate = os.path.join(ZOO_DIR, recipe if recipe.endswith(".json") else recipe + ".json")
  if os.path.isfile(candidate):
    return candidate
  raise ConfigError(f"--recipe={recipe!r} is neither a file nor a recipe in zoo/; "
                    f"valid recipes: {', '.join(recipe_names())}.")


def recipe_names():
  if not os.path.isdir(ZOO_DIR):
    return []
  return sorted(name[:-5] for name in os.listdir(ZOO_DIR) if name.endswith(".json"))


def load_recipe(recipe):
  """The recipe's `config` dict (train fields plus `hparams`)."""
  path = recipe_path(recipe)

  def refuse_duplicate_keys(pairs):
    # json.load would keep the last of two equal keys silently.
    names = [name for name, _ in pairs]
    for name in names:
      if names.count(name) > 1:
        raise ConfigError(f"Recipe {path} sets {name!r} twice; give each name once.")
    return dict(pairs)

  try:
    with open(path) as f:
      recipe_json = json.load(f, object_pairs_hook=refuse_duplicate_keys)
  except json.JSONDecodeError as e:
    raise ConfigError(f"Recipe {path} is not valid JSON: {e}.") from e
  if not isinstance(recipe_json, dict):
    raise ConfigError(f"Recipe {path} holds a JSON {_json_type(recipe_json)}, not an object "
                      f"with a 'config' object.")
  if not isinstance(recipe_json.get("config"), dict):
    raise ConfigError(f"Recipe {path} has no 'config' object.")
  return recipe_json["config"]


def _json_type(value):
  return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null",
          int: "number", float: "number"}.get(type(value), type(value).__name__)


_EXPECTED = {bool: "true or false", int: "an integer", str: "a string",
             list: "a list", dict: "an object"}
_LIST_ITEMS = {"metrics": (str, "a list of strings"), "element_shape": (int, "a list of integers")}


def field_problem(name, value):
  """None if `value` fits TrainConfig field `name`, else "batch_size is '64', not an integer"."""
  default = getattr(TrainConfig(), name)
  if name == "xla":
    fits, expected = isinstance(value, (bool, str)), 'true, false or "auto"'
  else:  # A bool is an int to isinstance; neither may stand for the other here.
    fits = isinstance(value, type(default)) and isinstance(value, bool) == isinstance(default, bool)
    expected = _EXPECTED[type(default)]
    if fits and name in _LIST_ITEMS:
      item_type, expected = _LIST_ITEMS[name]
      fits = all(isinstance(item, item_type) and not isinstance(item, bool) for item in value)
  return None if fits else f"{name} is {value!r}, not {expected}"


DICT_FIELDS = ("hparams", "metric_options")


def make_config(recipe=None, values=None):
  """A TrainConfig of the defaults, then the recipe, then `values` ({field: value}; hparams
  and metric_options as dicts or 'name=value,...', merged over the recipe's)."""
  fields = {field.name for field in dataclasses.fields(TrainConfig)} - {"element_shape"}
  merged = {name: {} for name in DICT_FIELDS}
  layers = [(f"Recipe {recipe}", dict(load_recipe(recipe)) if recipe else {}),
            ("Settings", dict(values or {}))]
  for source, layer in layers:
    unknown = sorted(set(layer) - fields)
    if unknown:
      raise ConfigError(f"{source} sets unknown fields: {unknown}; valid: {sorted(fields)}.")
    for name in DICT_FIELDS:
      given = layer.pop(name, None) or {}
      if isinstance(given, str):
        given = parse_hparams(given, flag=f"--{name}")
      elif not isinstance(given, dict):
        raise ConfigError(f"{source}: {name} is {given!r}, not an object (or a "
                          f"'name=value,...' string).")
      merged[name].update(given)
    for name, value in layer.items():
      problem = field_problem(name, value)
      if problem:
        raise ConfigError(f"{source}: {problem}.")
    merged.update(layer)
  return TrainConfig(**merged)


def check_model_source(model_dir, saved_model, pretrained, step=None):
  """Refuses anything but exactly one model source, and `step` without model_dir."""
  if sum(map(bool, (model_dir, saved_model, pretrained))) != 1:
    raise ConfigError("Give exactly one of --model_dir, --saved_model and --pretrained.")
  if step is not None and not model_dir:
    raise ConfigError("--step picks a checkpoint of --model_dir; an export or a pretrained "
                      "model holds one step only.")


def parse_hparams(text, flag="--hparams"):
  """'latent_dim=64,loss=minimax' -> {name: string}; `flag` names the text's flag in errors."""
  if not text:
    return {}
  pairs = {}
  for item in text.split(","):
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
      raise ConfigError(f"{flag} item {item!r} is not of the form name=value.")
    if key in pairs:
      raise ConfigError(f"{flag} sets {key} twice ({key}={pairs[key]} and "
                        f"{key}={value.strip()}); give each name once.")
    pairs[key] = value.strip()
  return pairs


def _coerce(name, value, default):
  """A flag string as the default's type; refuses a value of another type."""
  try:
    if not isinstance(value, str) or isinstance(default, str):
      if not _fits(value, default):
        raise ValueError
      return value
    if isinstance(default, bool):
      return {"true": True, "1": True, "false": False, "0": False}[value.lower()]
    if isinstance(default, int):
      return int(value)
    if isinstance(default, float):
      return float(value)
    if isinstance(default, (list, tuple)):
      return [type(default[0])(v) for v in value.split(":")] if default else value.split(":")
  except (KeyError, ValueError):  # KeyError: not a boolean word.
    raise ConfigError(
        f"Hyperparameter {name}={value!r} is not a valid {type(default).__name__}.") from None
  return value


def _fits(value, default):
  """Whether a non-text value has the default's type (an integer fits a float)."""
  if isinstance(default, bool) or isinstance(value, bool):
    return isinstance(value, bool) and isinstance(default, bool)
  if isinstance(default, float):
    return isinstance(value, (int, float))
  if isinstance(default, (list, tuple)):
    return isinstance(value, (list, tuple))
  return isinstance(value, type(default))


def _numbers(value):
  items = (value.values() if isinstance(value, dict)
           else value if isinstance(value, (list, tuple)) else [value])
  return [item for item in items if isinstance(item, (int, float)) and not isinstance(item, bool)]


def resolve_hparams(family_name, defaults, overrides):
  """The family's defaults with `overrides` merged in; refuses unknown names, non-finite
  numbers, integers beyond int32 and learning rates not above 0."""
  unknown = sorted(set(overrides) - set(defaults))
  if unknown:
    raise ConfigError(f"Unknown hyperparameter(s) {', '.join(unknown)} for model {family_name!r}; "
                      f"valid: {', '.join(sorted(defaults))}.")
  resolved = {**defaults, **{name: _coerce(name, value, defaults[name])
                             for name, value in overrides.items()}}
  for name, value in resolved.items():
    for number in _numbers(value):
      if not math.isfinite(number):
        raise ConfigError(f"Hyperparameter {name}={value!r} is not a finite number.")
      if isinstance(number, int) and abs(number) > INT32_MAX:
        raise ConfigError(f"Hyperparameter {name}={value!r} is beyond int32 (at most {INT32_MAX}).")
    if name.endswith("learning_rate") and not (_numbers(value) == [value] and value > 0):
      raise ConfigError(f"Hyperparameter {name}={value!r} is a learning rate: it must be above 0.")
  return resolved


def validate(config):
  """Raises ConfigError for a value no family or dataset checks."""
  if not config.model_dir:
    raise ConfigError("--model_dir is required: the folder for checkpoints, logs and exports.")
  for name, choices in (("strategy", STRATEGIES), ("mixed_precision", MIXED_PRECISION),
                        ("on_nonfinite", ON_NONFINITE)):
    if getattr(config, name) not in choices:
      raise ConfigError(f"--{name}={getattr(config, name)!r} is not one of {', '.join(choices)}.")
  for name in ("train_steps", "batch_size", "checkpoint_every", "summary_every", "log_every",
               "keep_checkpoints", "metric_samples"):
    if getattr(config, name) <= 0:
      raise ConfigError(f"--{name} must be a positive integer, got {getattr(config, name)}.")
  for name in ("batch_size", "cpu_replicas", "resolution", "metric_samples"):
    if getattr(config, name) > INT32_MAX:
      raise ConfigError(f"--{name}={getattr(config, name)} is beyond int32 (at most {INT32_MAX}).")
  if not 0 <= config.seed <= SEED_MAX:
    raise ConfigError(f"--seed must be between 0 and {SEED_MAX}, got {config.seed}.")
  if config.cpu_replicas < 0:
    raise ConfigError(f"--cpu_replicas must be 0 or more, got {config.cpu_replicas}.")
  if config.cpu_replicas > 1 and config.strategy not in ("mirrored", "multi_worker"):
    raise ConfigError(f"--cpu_replicas={config.cpu_replicas} only makes sense with "
                      f"--strategy=mirrored or multi_worker, not {config.strategy!r}.")
  if not (isinstance(config.xla, bool) or config.xla == "auto"):
    raise ConfigError(f"xla={config.xla!r} is not true, false or \"auto\".")
  if config.xla is True and config.strategy in ("mirrored", "multi_worker"):
    raise ConfigError(
        "--xla compiles the whole per-replica step, which tf.distribute supports only with "
        "one replica (--strategy=default or one_device); TPUStrategy always compiles with XLA.")
  if config.strategy == "tpu" and not config.tpu:
    raise ConfigError("--strategy=tpu needs --tpu=NAME_OR_ADDRESS.")
  if config.data_dir and not os.path.exists(config.data_dir):
    raise ConfigError(f"--data_dir={config.data_dir!r} does not exist.")
  if config.resolution < 0 or (config.resolution & (config.resolution - 1)):
    raise ConfigError(f"--resolution must be a power of two, got {config.resolution}.")
