"""tools/emoji_groups.py: emoji labelled with their Unicode emoji group, by value."""

import collections

import pytest

from conftest import requires_emoji_data
from keras_gen.data.errors import DataError
from tools import emoji_font
from tools import emoji_groups


TINY_EMOJI_TEST = """\
# group: Smileys & Emotion
# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
# group: People & Body
1F64E 1F3FF 200D 2642 FE0F                             ; fully-qualified     # 🙎🏿‍♂️ man pouting
1F64E 1F3FF 200D 2642                                  ; minimally-qualified # 🙎🏿‍♂ man pouting
# group: Flags
1F1EF 1F1F5                                            ; fully-qualified     # 🇯🇵 flag: Japan
"""


class _Font:
  """Stands in for EmojiFont: glyph ID -> the code points that reach it."""

  def __init__(self, code_points):
    self._code_points = code_points

  def code_points(self, glyph_id):
    return self._code_points.get(glyph_id, ())


def _glyph(glyph_id):
  return emoji_font.Glyph(glyph_id=glyph_id, width=1, height=1, png=b"")


def test_groups_are_numbered_in_file_order_and_keyed_by_sorted_code_points_without_fe0f(
    tmp_path):
  path = tmp_path / "emoji-test.txt"
  path.write_text(TINY_EMOJI_TEST, encoding="utf-8")

  names, groups = emoji_groups.read_groups(str(path))

  assert names == ["Smileys & Emotion", "People & Body", "Flags"]
  assert groups == {(0x1F600,): 0, (0x200D, 0x2642, 0x1F3FF, 0x1F64E): 1,
                    (0x1F1EF, 0x1F1F5): 2}


def test_a_glyph_is_labelled_by_its_multiset_of_code_points_and_unmatched_glyphs_get_minus_1(
    tmp_path):
  path = tmp_path / "emoji-test.txt"
  path.write_text(TINY_EMOJI_TEST, encoding="utf-8")
  _, groups = emoji_groups.read_groups(str(path))
  # The font keys this ZWJ sequence gender sign first, as Noto Color Emoji does.
  font = _Font({1: (0x1F600,), 2: (0x2642, 0x200D, 0x1F64E, 0x1F3FF), 3: (0x1F1EF, 0x1F1F5),
                4: (0x1F1EF,), 5: ()})

  labels = emoji_groups.label_glyphs(font, [_glyph(i) for i in (1, 2, 3, 4, 5)], groups)

  assert labels == [0, 1, 2, emoji_groups.UNLABELLED, emoji_groups.UNLABELLED]


def test_a_missing_emoji_list_names_the_debian_package(tmp_path):
  with pytest.raises(DataError, match=r"apt-get install unicode-data"):
    emoji_groups.read_groups(str(tmp_path / "missing.txt"))


def test_a_file_without_groups_is_refused(tmp_path):
  path = tmp_path / "emoji-test.txt"
  path.write_text("1F600 ; fully-qualified # 😀\n", encoding="utf-8")
  with pytest.raises(DataError, match=r"lists no emoji under a '# group:' line"):
    emoji_groups.read_groups(str(path))


@requires_emoji_data
def test_noto_color_emoji_glyphs_fall_into_the_ten_groups_with_270_unlabelled():
  names, groups = emoji_groups.read_groups()
  font = emoji_font.read_font(emoji_font.DEFAULT_FONT)

  labels = emoji_groups.label_glyphs(font, font.glyphs, groups)

  assert len(names) == 10 and names[0] == "Smileys & Emotion" and names[-1] == "Flags"
  counts = collections.Counter(labels)
  assert counts == {1: 2148, -1: 270, 7: 261, 9: 261, 5: 218, 8: 223, 0: 166, 3: 152, 4: 133,
                    6: 85, 2: 9}
  by_id = dict(zip((glyph.glyph_id for glyph in font.glyphs), labels))
  assert by_id[font.cmap[0x1F600]] == names.index("Smileys & Emotion")
