"""Creates and inspects multi-resolution TFRecord datasets for Progressive GAN.

  python -m tools.dataset_tool create_from_idx datasets/fashion_mnist32 \\
      /usr/share/datasets/fashion-mnist --pad_to=32
  python -m tools.dataset_tool create_from_tfds datasets/cifar10 cifar10
  python -m tools.dataset_tool create_from_images datasets/faces ~/faces --resolution=256
  python -m tools.dataset_tool create_from_npz datasets/mine images.npz
  python -m tools.dataset_tool create_from_emoji datasets/emoji64 --resolution=64
  python -m tools.dataset_tool info datasets/fashion_mnist32
  python -m tools.dataset_tool display datasets/fashion_mnist32 --output=grid.png
  python -m tools.dataset_tool compare datasets/a datasets/b

The format (the original ProGAN tool's: NAME-rNN.tfrecords, CHW uint8 records)
is described in `keras_gen.data.tfrecords`. Train on the folder with
`--dataset=progan:FOLDER`. A bad input is one sentence on stderr and exit code
2, and leaves no output folder behind.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_gen import cli  # noqa: E402


def _add_create_options(parser):
  parser.add_argument("output_dir", help="The dataset folder to create (must not exist).")
  parser.add_argument("--name", default="", help="File name prefix (default: the folder's name).")
  parser.add_argument("--seed", type=int, default=0, help="Seed of the fixed shuffled order.")
  parser.add_argument("--shard_size", type=int, default=0,
                      help="Images per shard file; 0 writes one file per level.")
  parser.add_argument("--domain", default="",
                      help="The keras_gen dataset the images are copies of (e.g. fashion_mnist), "
                      "recorded so FCD finds its domain classifier; Debian's Fashion-MNIST IDX "
                      "folder and tfds fashion_mnist, mnist and cifar10 set it themselves "
                      "unless --resolution resamples them.")


def _add_array_options(parser):
  parser.add_argument("--pad_to", type=int, default=0,
                      help="Zero-pad images to this power-of-two size (28 -> 32).")
  parser.add_argument("--resolution", type=int, default=0,
                      help="Centre-crop and resize to this power-of-two size.")


def _parser():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  commands = parser.add_subparsers(dest="command", required=True)
  tfds = commands.add_parser("create_from_tfds", help="A tfds dataset by name.")
  _add_create_options(tfds)
  tfds.add_argument("tfds_name", help="e.g. mnist, fashion_mnist, cifar10, celeb_a.")
  tfds.add_argument("--split", default="train")
  tfds.add_argument("--data_dir", default=None, help="A tfds data dir with a prepared copy.")
  _add_array_options(tfds)
  idx = commands.add_parser("create_from_idx", help="MNIST-style IDX files.")
  _add_create_options(idx)
  idx.add_argument("idx_dir", help="Folder with train-images-idx3-ubyte[.gz] etc.")
  idx.add_argument("--split", default="train", choices=["train", "test"])
  _add_array_options(idx)
  npz = commands.add_parser("create_from_npz", help="A .npz with 'images' (and 'labels').")
  _add_create_options(npz)
  npz.add_argument("npz_path")
  _add_array_options(npz)
  images = commands.add_parser("create_from_images", help="A folder of image files.")
  _add_create_options(images)
  images.add_argument("image_dir")
  images.add_argument("--resolution", type=int, required=True,
                      help="Centre-crop and resize every image to this power-of-two size.")
  images.add_argument("--channels", type=int, default=0, choices=[0, 1, 3],
                      help="1 or 3; 0 takes the first image's.")
  emoji = commands.add_parser(
      "create_from_emoji", help="The colour emoji of a CBDT font (apt-get install "
      "fonts-noto-color-emoji): every bitmap centred on a square, RGB.")
  _add_create_options(emoji)
  emoji.add_argument("--font", default="", help="A CBDT/CBLC colour font (default: Debian's "
                     "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf).")
  emoji.add_argument("--resolution", type=int, default=64,
                     help="Power-of-two side the 136x136 glyph canvas is area-averaged to.")
  emoji.add_argument("--background", default="white",
                     help="white, black or #rrggbb, the colour the bitmaps are composited over.")
  emoji.add_argument("--glyphs", default="all",
                     help="all: every bitmap, sequences (skin tones, ZWJ, flags) included; "
                     "code_points: only glyphs one code point maps to.")
  emoji.add_argument("--emoji_test", default="",
                     help="Unicode's emoji-test.txt (default: Debian's unicode-data "
                     "/usr/share/unicode/emoji/emoji-test.txt): each emoji is labelled with its "
                     "group, the classes of the emoji FCD classifier.")
  emoji.add_argument("--max_glyphs", type=int, default=0,
                     help="Only the first N glyphs in glyph-ID order (a quick look); 0 takes all.")
  info = commands.add_parser("info", help="Levels, resolutions and counts.")
  info.add_argument("dataset_dir")
  display = commands.add_parser("display", help="Writes a grid PNG of one level.")
  display.add_argument("dataset_dir")
  display.add_argument("--output", required=True, help="The PNG file to write.")
  display.add_argument("--level", type=int, default=0, help="log2 resolution; 0 is the top.")
  display.add_argument("--count", type=int, default=64)
  compare = commands.add_parser("compare", help="Compares two datasets level by level.")
  compare.add_argument("dataset_a")
  compare.add_argument("dataset_b")
  return parser


def _create(args, tfrecords):
  from keras_gen.data import files  # pylint: disable=g-import-not-at-top
  from keras_gen.data import sources  # pylint: disable=g-import-not-at-top
  name = args.name or os.path.basename(os.path.normpath(args.output_dir))
  common = dict(seed=args.seed, shard_size=args.shard_size)
  if args.command == "create_from_images":
    return tfrecords.create_from_folder(args.output_dir, name, args.image_dir, args.resolution,
                                        channels=args.channels, domain=args.domain, **common)
  if args.command == "create_from_emoji":
    images, labels, source = _render_emoji(args, tfrecords)
    # The shipped emoji classifier was trained on the 64x64 emoji over white.
    domain = "emoji" if args.resolution == 64 and args.background == "white" else ""
    return tfrecords.create_from_arrays(args.output_dir, name, images, labels, source=source,
                                        domain=args.domain or domain, **common)
  if args.command == "create_from_idx":
    images, labels = files.read_idx_dataset(args.idx_dir, args.split)
    source = f"IDX files in {args.idx_dir} ({args.split})"
  elif args.command == "create_from_npz":
    images, labels = files.read_npz(args.npz_path)
    source = f"npz file {args.npz_path}"
  else:
    images, labels = sources._load_tfds(args.tfds_name, args.split, args.data_dir)  # pylint: disable=protected-access
    source = f"tfds dataset {args.tfds_name} ({args.split})"
  images = tfrecords.prepare_arrays(images, args.pad_to, args.resolution, source)
  return tfrecords.create_from_arrays(args.output_dir, name, images, labels, source=source,
                                      domain=args.domain or _known_domain(args, sources),
                                      **common)


def _known_domain(args, sources):
  """The keras_gen dataset an IDX folder or tfds name holds, when its pixels are kept
  (zero-padding keeps them: the domain classifier centre-crops), else ""."""
  if args.resolution:
    return ""
  if args.command == "create_from_idx":
    debian = os.path.realpath(sources.DEBIAN_FASHION_MNIST_DIR)
    return "fashion_mnist" if os.path.realpath(args.idx_dir) == debian else ""
  if args.command == "create_from_tfds" and args.tfds_name in ("fashion_mnist", "mnist",
                                                               "cifar10"):
    return args.tfds_name
  return ""


def _render_emoji(args, tfrecords):
  """uint8 [N, R, R, 3] emoji images, int64 [N] group labels (-1: none) and the
  one-line description of how they were made."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from keras_gen.data.errors import DataError  # pylint: disable=g-import-not-at-top
  from tools import emoji_font  # pylint: disable=g-import-not-at-top
  from tools import emoji_groups  # pylint: disable=g-import-not-at-top
  if not tfrecords.is_power_of_two(args.resolution) or args.resolution < 4:
    raise DataError(f"--resolution={args.resolution} is not a power of two of at least 4.")
  background = emoji_font.parse_background(args.background)
  if os.path.exists(args.output_dir):  # Said before rendering, not after.
    raise DataError(f"Output folder {args.output_dir} already exists; choose a new one.")
  emoji_test = args.emoji_test or emoji_groups.DEFAULT_EMOJI_TEST
  group_names, groups = emoji_groups.read_groups(emoji_test)
  font = emoji_font.read_font(args.font or emoji_font.DEFAULT_FONT)
  glyphs = font.select(args.glyphs)
  if args.max_glyphs > 0:
    glyphs = glyphs[:args.max_glyphs]
  side = emoji_font.canvas_side(font.glyphs)
  images, empty = emoji_font.render(glyphs, args.resolution, background, side)
  skipped = set(empty)
  labels = np.asarray([label for glyph, label in
                       zip(glyphs, emoji_groups.label_glyphs(font, glyphs, groups))
                       if glyph.glyph_id not in skipped], np.int64)
  source = emoji_font.describe(font, args.glyphs, len(images), len(empty), side, args.resolution,
                               args.background)
  source += (f"; labels: the emoji group in {emoji_test} ("
             + ", ".join(f"{index} {name}" for index, name in enumerate(group_names))
             + f"), -1 for the {int(np.sum(labels < 0))} glyphs no listed sequence reaches")
  print(f"Read {len(glyphs)} of the {len(font.glyphs)} colour bitmaps of {font.path} "
        f"({font.family}, {font.version}; {len(font.select('code_points'))} of them mapped from "
        f"one code point); {len(empty)} rendered empty and were skipped"
        f"{': glyph IDs ' + str(empty[:10]) if empty else ''}; "
        f"{int(np.sum(labels >= 0))} are labelled with one of the {len(group_names)} emoji groups.")
  return images, labels, source


def _print_info(description):
  print(f"resolution {description['resolution']}x{description['resolution']}, "
        f"{description['channels']} channel(s), labels: {description['has_labels']}")
  if description.get("source"):
    print(f"source: {description['source']}")
  if description.get("domain"):
    print(f"domain: {description['domain']} (FCD uses its domain classifier)")
  for level, count in sorted(description["levels"].items()):
    files = description["files"][level]
    print(f"  r{level:02d}  {2 ** level:>5}x{2 ** level:<5} {count:>9} images  "
          f"{len(files)} file(s): {files[0]}{' ...' if len(files) > 1 else ''}")


def _display(args, tfrecords):
  from keras_gen.engine import summaries  # pylint: disable=g-import-not-at-top
  level = args.level or tfrecords.info(args.dataset_dir)["top_level"]
  images, _ = tfrecords.read_level(args.dataset_dir, level, limit=args.count)
  summaries.write_png(os.path.abspath(args.output),
                      summaries.image_grid(images.astype("float32") / 127.5 - 1.0))
  print(f"Wrote a grid of {len(images)} {2 ** level}x{2 ** level} images to {args.output}")


def _compare(args, tfrecords):
  """Prints, per level, how many images are identical; exit code 1 if any differ."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  a, b = tfrecords.level_files(args.dataset_a), tfrecords.level_files(args.dataset_b)
  identical = sorted(a) == sorted(b)
  for level in sorted(set(a) | set(b)):
    if level not in a or level not in b:
      print(f"  r{level:02d}  only in {args.dataset_a if level in a else args.dataset_b}")
      continue
    (images_a, labels_a), (images_b, labels_b) = (
        tfrecords.read_level(args.dataset_a, level), tfrecords.read_level(args.dataset_b, level))
    if images_a.shape != images_b.shape:
      print(f"  r{level:02d}  shapes differ: {images_a.shape} vs {images_b.shape}")
      identical = False
      continue
    same = np.all(images_a == images_b, axis=(1, 2, 3))
    max_diff = int(np.max(np.abs(images_a.astype(int) - images_b.astype(int))))
    same_labels = (labels_a is None and labels_b is None) or (
        labels_a is not None and labels_b is not None and np.array_equal(labels_a, labels_b))
    identical &= bool(same.all()) and same_labels
    print(f"  r{level:02d}  {int(same.sum())}/{len(same)} images identical, max |difference| "
          f"{max_diff}, labels {'identical' if same_labels else 'differ'}")
  print("Identical." if identical else "Different.")
  return 0 if identical else 1


def main(argv=None):
  args = _parser().parse_args(argv)
  cli.quiet_tensorflow()
  from keras_gen.data import tfrecords  # Imports TensorFlow.
  if args.command.startswith("create_from_"):
    metadata = cli.exit_on_user_error(_create, args, tfrecords)
    print(f"Wrote {metadata['num_images']} images at {len(metadata['levels'])} levels "
          f"(4x4 to {metadata['resolution']}x{metadata['resolution']}) to {args.output_dir}")
  elif args.command == "info":
    _print_info(cli.exit_on_user_error(tfrecords.info, args.dataset_dir))
  elif args.command == "display":
    cli.exit_on_user_error(_display, args, tfrecords)
  else:
    return cli.exit_on_user_error(_compare, args, tfrecords)
  return 0


if __name__ == "__main__":
  sys.exit(main())
