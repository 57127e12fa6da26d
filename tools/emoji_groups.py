"""Class labels for the emoji dataset: Unicode's emoji groups from emoji-test.txt.

Debian's `unicode-data` installs /usr/share/unicode/emoji/emoji-test.txt, which
lists every emoji sequence under one of ten groups ("Smileys & Emotion",
"People & Body", "Component", "Animals & Nature", "Food & Drink", "Travel &
Places", "Activities", "Objects", "Symbols", "Flags"). A glyph's label is the
index of its sequence's group in the order the file lists them; the domain
classifier behind the emoji FCD is trained on these labels.

Sequences are matched as multisets of code points without U+FE0F (the emoji
presentation selector, which the font's ligatures leave out), because the font
keys some ZWJ ligatures in another order than Unicode's sequence. No two
sequences of different groups share a multiset in emoji-test.txt 15.0.
"""

import os

from keras_gen.data.errors import DataError

DEFAULT_EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
INSTALL_COMMAND = "apt-get install unicode-data"
UNLABELLED = -1
_PRESENTATION_SELECTOR = 0xFE0F


def _key(code_points):
  return tuple(sorted(code for code in code_points if code != _PRESENTATION_SELECTOR))


def read_groups(path=DEFAULT_EMOJI_TEST):
  """Parses emoji-test.txt.

  Returns:
    (group names in the file's order, {sequence key: group index}), where a key is
    the sorted code points without U+FE0F.

  Raises:
    DataError: the file is missing (naming the Debian package) or lists no group.
  """
  if not os.path.isfile(path):
    raise DataError(f"Unicode's emoji list {path} does not exist; install it with "
                    f"`{INSTALL_COMMAND}` or pass --emoji_test=PATH to an emoji-test.txt.")
  names, groups = [], {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      if line.startswith("# group:"):
        names.append(line.split(":", 1)[1].strip())
      elif line.strip() and not line.startswith("#") and names:
        code_points = [int(code, 16) for code in line.split(";")[0].split()]
        groups.setdefault(_key(code_points), len(names) - 1)
  if not groups:
    raise DataError(f"{path} lists no emoji under a '# group:' line; expected Unicode's "
                    f"emoji-test.txt.")
  return names, groups


def label_glyphs(font, glyphs, groups):
  """int64-ready list: the group index of each glyph's code points, UNLABELLED
  (-1) for glyphs no listed sequence reaches (keycap parts, regional indicator
  letters, private-use glyphs, emoji newer than the list)."""
  return [groups.get(_key(font.code_points(glyph.glyph_id)), UNLABELLED) for glyph in glyphs]
