"""tools/emoji_font.py: a colour emoji font's CBDT bitmaps, centred and composited, by value."""

import os
import struct

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.data.errors import DataError
from tools import emoji_font

needs_noto = pytest.mark.skipif(
    not os.path.isfile(emoji_font.DEFAULT_FONT),
    reason="Debian's fonts-noto-color-emoji is not installed (apt-get install "
    "fonts-noto-color-emoji; .ci/run installs it)")

GRINNING_FACE = 0x1F600


def _glyph(glyph_id, rgba):
  """A Glyph holding uint8 [H, W, 4] as its PNG bytes."""
  return emoji_font.Glyph(glyph_id=glyph_id, width=rgba.shape[1], height=rgba.shape[0],
                          png=tf.io.encode_png(rgba).numpy())


def _corner_glyph():
  """An 8x6 bitmap whose only opaque part is a 2x2 block in its top-left corner.

  Three pixels are opaque red; the fourth is blue at alpha 128.
  """
  rgba = np.zeros([6, 8, 4], np.uint8)
  rgba[0:2, 0:2] = [255, 0, 0, 255]
  rgba[1, 1] = [0, 0, 255, 128]
  return _glyph(7, rgba)


@needs_noto
def test_noto_color_emoji_holds_about_3900_bitmaps_of_136x128_and_1450_single_code_points():
  font = emoji_font.read_font(emoji_font.DEFAULT_FONT)
  code_points = font.select("code_points")
  # Version 2.042 (Debian 12): 3,926 bitmaps, 1,446 of them mapped from one code point.
  assert font.family == "Noto Color Emoji" and font.version.startswith("Version 2.")
  assert font.license_description == (
      "This Font Software is licensed under the SIL Open Font License, Version 1.1")
  assert 3500 <= len(font.glyphs) <= 5000 and 1300 <= len(code_points) <= 2000
  assert {(glyph.width, glyph.height) for glyph in font.glyphs} == {(136, 128)}
  assert emoji_font.canvas_side(font.glyphs) == 136
  assert [glyph.glyph_id for glyph in font.glyphs] == sorted({g.glyph_id for g in font.glyphs})
  assert font.cmap[GRINNING_FACE] in {glyph.glyph_id for glyph in code_points}
  # Space and the zero-width joiner are mapped but have no bitmap.
  assert font.cmap[0x20] not in {glyph.glyph_id for glyph in font.glyphs}
  assert font.cmap[0x200D] not in {glyph.glyph_id for glyph in font.glyphs}
  with pytest.raises(DataError, match="--glyphs=emoji is not one of all, code_points"):
    font.select("emoji")


@needs_noto
def test_grinning_face_renders_yellow_centred_on_white_and_black_backgrounds():
  font = emoji_font.read_font(emoji_font.DEFAULT_FONT)
  face = [glyph for glyph in font.glyphs if glyph.glyph_id == font.cmap[GRINNING_FACE]]
  (on_white,), empty = emoji_font.render(face, 64, (255, 255, 255), side=136)
  (on_black,), _ = emoji_font.render(face, 64, (0, 0, 0), side=136)
  assert empty == [] and on_white.shape == (64, 64, 3) and on_white.dtype == np.uint8
  assert on_white[0, 0].tolist() == [255, 255, 255] and on_black[0, 0].tolist() == [0, 0, 0]
  # Colour, not grey: the face is yellow, red well above blue.
  face_pixels = on_white[np.any(on_white < 250, axis=-1)].astype(int)
  assert np.mean(face_pixels[:, 0] - face_pixels[:, 2]) > 100
  # The opaque interior does not depend on the background; only the edges do.
  assert on_white[32, 20].tolist() == on_black[32, 20].tolist()
  rows = np.flatnonzero(np.any(on_white < 250, axis=(1, 2)))
  columns = np.flatnonzero(np.any(on_white < 250, axis=(0, 2)))
  assert abs((rows[0] + rows[-1]) / 2 - 31.5) <= 1
  assert abs((columns[0] + columns[-1]) / 2 - 31.5) <= 1
  assert rows[0] > 0 and columns[0] > 0 and rows[-1] < 63 and columns[-1] < 63  # Not clipped.


def test_the_opaque_part_is_centred_and_alpha_composited_over_the_background():
  (image,), _ = emoji_font.render([_corner_glyph()], 8, (255, 255, 255), side=8)
  # The 2x2 block moves from the corner to rows and columns 3-4 of the 8x8 canvas.
  assert image[3, 3].tolist() == [255, 0, 0] and image[3, 4].tolist() == [255, 0, 0]
  # Blue at alpha 128 over white: 255 * (1 - 128/255) = 127 in red and green.
  assert image[4, 4].tolist() == [127, 127, 255]
  image[3:5, 3:5] = 255
  assert image.min() == 255
  (on_black,), _ = emoji_font.render([_corner_glyph()], 8, (0, 0, 0), side=8)
  assert on_black[4, 4].tolist() == [0, 0, 128] and on_black[0, 0].tolist() == [0, 0, 0]


def test_shrinking_averages_areas_of_the_composited_canvas_and_rounds_once():
  (image,), _ = emoji_font.render([_corner_glyph()], 4, (255, 255, 255), side=8)
  # Output pixel (1, 1) averages canvas rows and columns 2-3: one red pixel, three white.
  assert image[1, 1].tolist() == [255, 191, 191]  # 3 * 255 / 4 = 191.25.
  # Output pixel (2, 2) averages rows and columns 4-5: (127, 127, 255) and three white.
  assert image[2, 2].tolist() == [223, 223, 255]  # (127 + 3 * 255) / 4 = 223.
  assert image[0, 0].tolist() == [255, 255, 255]


def test_a_fully_transparent_glyph_is_skipped_and_named():
  blank = _glyph(3, np.zeros([6, 8, 4], np.uint8))
  images, empty = emoji_font.render([blank, _corner_glyph(), blank], 8, side=8)
  assert images.shape == (1, 8, 8, 3) and empty == [3, 3]


def test_a_resolution_larger_than_the_canvas_is_refused():
  with pytest.raises(DataError, match="--resolution=16 is larger than the font's 8x8 glyph canvas"):
    emoji_font.render([_corner_glyph()], 16, side=8)


def test_backgrounds_are_white_black_or_hex_colours():
  assert emoji_font.parse_background("white") == (255, 255, 255)
  assert emoji_font.parse_background("black") == (0, 0, 0)
  assert emoji_font.parse_background("#ff8000") == (255, 128, 0)
  for bad in ("teal", "#ff80", "#gg0000"):
    with pytest.raises(DataError, match=f"--background={bad} is not white, black or a #rrggbb"):
      emoji_font.parse_background(bad)


def test_a_missing_font_is_one_sentence_naming_the_debian_package(tmp_path):
  with pytest.raises(DataError, match="install it with `apt-get install fonts-noto-color-emoji`"):
    emoji_font.read_font(str(tmp_path / "NotoColorEmoji.ttf"))


def _sfnt(*tables):
  """An sfnt header and table directory of (tag, offset) records, nothing after it."""
  header = struct.pack(">IHHHH", 0x00010000, len(tables), 0, 0, 0)
  return header + b"".join(struct.pack(">4sIII", tag, 0, offset, 16) for tag, offset in tables)


@pytest.mark.parametrize("contents,message", [
    (b"not a font at all", "is not a TrueType/OpenType font"),
    (_sfnt((b"glyf", 100)), "has no CBDT/CBLC colour bitmap tables"),
    (_sfnt((b"CBDT", 1000), (b"CBLC", 2000)), "is truncated or corrupt"),
])
def test_files_that_are_not_colour_bitmap_fonts_are_refused_naming_the_file(tmp_path, contents,
                                                                            message):
  path = tmp_path / "font.ttf"
  path.write_bytes(contents)
  with pytest.raises(DataError, match=message) as error:
    emoji_font.read_font(str(path))
  assert str(path) in str(error.value)


def test_code_points_expand_nested_ligatures_through_the_cmap():
  font = emoji_font.EmojiFont(
      path="", family="", version="", license_description="", glyphs=(),
      cmap={0x1F1EF: 10, 0x1F1F5: 11, 0x200D: 12, 0x2642: 13, 0x1F64E: 14},
      ligatures={20: (10, 11), 21: (14, 12), 22: (21, 13), 23: (14, 99)})

  assert font.code_points(10) == (0x1F1EF,)
  assert font.code_points(20) == (0x1F1EF, 0x1F1F5)
  assert font.code_points(22) == (0x1F64E, 0x200D, 0x2642)
  assert font.code_points(23) == ()  # Glyph 99 is reached by nothing.
  assert font.code_points(98) == ()


@needs_noto
def test_noto_color_emojis_gsub_ligatures_reach_the_flag_of_japan_and_2501_glyphs():
  font = emoji_font.read_font(emoji_font.DEFAULT_FONT)

  assert len(font.ligatures) == 2501
  japan = [glyph.glyph_id for glyph in font.glyphs
           if sorted(font.code_points(glyph.glyph_id)) == [0x1F1EF, 0x1F1F5]]
  assert len(japan) == 1 and japan[0] in font.ligatures
