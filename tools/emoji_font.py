"""The colour emoji of a CBDT/CBLC bitmap font as square RGB images: the zoo's offline colour data.

Debian's `fonts-noto-color-emoji` installs NotoColorEmoji.ttf, whose colour
emoji are PNG bitmaps (136x128 in version 2.042) stored in the font's CBDT
table and indexed by glyph in its CBLC table (OpenType spec, "CBDT" and
"CBLC"). This module reads those tables with `struct` and decodes the PNGs with
TensorFlow, so it needs neither fontTools nor Pillow, and it reaches every
bitmap: the 1,446 glyphs that the 'cmap' table maps to one code point and the
2,480 that only a multi-character sequence reaches (skin-tone modifiers, ZWJ
families and professions, flags, keycaps). Rendering text with Pillow would
reach the latter only after parsing the GSUB ligatures to learn the sequences,
and its output would depend on the FreeType build; the PNG bytes do not.

Each image is the glyph's opaque part (alpha > 0) centred on a square canvas
as large as the largest bitmap (136x136), alpha-composited over a flat
background, then area-averaged down to a power-of-two resolution in float and
rounded to uint8 once.

The ligature lookups of the 'GSUB' table are read too, so every glyph can be
traced back to the code points that reach it (`EmojiFont.code_points`), which
tools/emoji_groups.py matches against Unicode's emoji groups for labels.
"""

import dataclasses
import functools
import math
import os
import struct

import numpy as np
import tensorflow as tf

from keras_gen.data.errors import DataError

DEFAULT_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
INSTALL_COMMAND = "apt-get install fonts-noto-color-emoji"
GLYPH_SETS = ("all", "code_points")
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}

# CBDT glyph image formats holding PNG data: 17 (small metrics), 18 (big
# metrics), 19 (metrics in CBLC). Bytes before the uint32 PNG length.
_PNG_HEADER_BYTES = {17: 5, 18: 8, 19: 0}
# 'name' table IDs.
_FAMILY_NAME_ID, _VERSION_NAME_ID, _LICENSE_NAME_ID = 1, 5, 13
_RENDER_CHUNK = 256
# GSUB lookup types (OpenType spec, "GSUB"): ligature substitution, and the
# extension lookup that holds another type's subtable behind a 32-bit offset.
_LIGATURE_LOOKUP, _EXTENSION_LOOKUP = 4, 7
_MAX_LIGATURE_NESTING = 8


@dataclasses.dataclass(frozen=True)
class Glyph:
  """One colour bitmap: its glyph ID, size in pixels and the PNG bytes."""
  glyph_id: int
  width: int
  height: int
  png: bytes


@dataclasses.dataclass(frozen=True)
class EmojiFont:
  """What a colour bitmap font holds.

  version, license_description: from the 'name' table, "" if absent.
  glyphs: every glyph with a bitmap, in glyph-ID order.
  cmap: {code point: glyph ID} of the font's Unicode 'cmap' subtable.
  ligatures: {glyph ID: component glyph IDs} of the 'GSUB' ligature lookups, the
    sequences (skin tones, ZWJ families, flags, keycaps) that reach a glyph.
  """
  path: str
  family: str
  version: str
  license_description: str
  glyphs: tuple
  cmap: dict
  ligatures: dict = dataclasses.field(default_factory=dict)

  def select(self, glyph_set):
    """The glyphs of "all" or of "code_points" (those one code point maps to), in glyph-ID order."""
    if glyph_set not in GLYPH_SETS:
      raise DataError(f"--glyphs={glyph_set} is not one of {', '.join(GLYPH_SETS)}.")
    if glyph_set == "all":
      return self.glyphs
    mapped = set(self.cmap.values())
    return tuple(glyph for glyph in self.glyphs if glyph.glyph_id in mapped)

  @functools.cached_property
  def _code_point_of_glyph(self):
    """{glyph ID: the lowest code point the cmap maps to it}, private-use code points left
    out: Noto also maps many sequence glyphs (flags, ...) from them, and they name no emoji,
    so those glyphs are told by their ligature."""
    by_glyph = {}
    for code_point, mapped in sorted(self.cmap.items()):
      if not _is_private_use(code_point):
        by_glyph.setdefault(mapped, code_point)
    return by_glyph

  def code_points(self, glyph_id):
    """The code points that reach a glyph: one through 'cmap', several through
    ligatures (expanded recursively), () if neither reaches it.

    Only the multiset is reliable: Noto Color Emoji keys some ZWJ ligatures in
    another order than Unicode's sequence (e.g. the gender sign first).
    """
    by_glyph = self._code_point_of_glyph

    def expand(glyph, depth):
      if glyph in by_glyph:
        return (by_glyph[glyph],)
      if glyph not in self.ligatures or depth > _MAX_LIGATURE_NESTING:
        return None
      parts = [expand(component, depth + 1) for component in self.ligatures[glyph]]
      return None if None in parts else sum(parts, ())

    return expand(glyph_id, 0) or ()


def _is_private_use(code_point):
  """Whether a code point is in one of Unicode's three Private Use Areas."""
  return (0xE000 <= code_point <= 0xF8FF or 0xF0000 <= code_point <= 0xFFFFD
          or 0x100000 <= code_point <= 0x10FFFD)


def read_font(path):
  """Reads the bitmap glyphs, cmap and names of a CBDT/CBLC font file.

  Raises:
    DataError: the file is missing (naming the Debian package), is not a
      TrueType/OpenType font, has no colour bitmap tables or is truncated.
  """
  if not os.path.isfile(path):
    raise DataError(f"Emoji font {path} does not exist; install it with "
                    f"`{INSTALL_COMMAND}` or pass --font=PATH to a CBDT colour emoji font.")
  with open(path, "rb") as f:
    data = f.read()
  try:
    tables = _table_offsets(data, path)
    if "CBDT" not in tables or "CBLC" not in tables:
      raise DataError(f"Font {path} has no CBDT/CBLC colour bitmap tables; expected a colour "
                      f"bitmap font such as Noto Color Emoji.")
    glyphs = tuple(_bitmap_glyphs(data, tables["CBLC"], tables["CBDT"], path))
    cmap = _unicode_cmap(data, tables.get("cmap"))
    ligatures = _ligatures(data, tables.get("GSUB"))
    names = tables.get("name")
    family = _name(data, names, _FAMILY_NAME_ID)
    # "Version 2.042;GOOG;noto-emoji:20231129:<commit>": the part before the first ";".
    version = _name(data, names, _VERSION_NAME_ID).split(";")[0]
    # "This Font Software is licensed under the SIL Open Font License, Version 1.1. ...":
    # the first sentence.
    license_description = _name(data, names, _LICENSE_NAME_ID).split(". ")[0].rstrip(".")
  except struct.error as error:
    raise DataError(f"Font {path} is truncated or corrupt: a table ends early "
                    f"({error}).") from error
  if not glyphs:
    raise DataError(f"Font {path} has CBDT/CBLC tables but no PNG bitmaps in them.")
  return EmojiFont(path=path, family=family, version=version,
                   license_description=license_description, glyphs=glyphs, cmap=cmap,
                   ligatures=ligatures)


def _table_offsets(data, path):
  """{tag: offset} from the sfnt table directory."""
  if len(data) < 12 or data[:4] not in (b"\x00\x01\x00\x00", b"true", b"OTTO"):
    raise DataError(f"File {path} is not a TrueType/OpenType font (it starts {data[:4]!r}).")
  (num_tables,) = struct.unpack_from(">H", data, 4)
  tables = {}
  for index in range(num_tables):
    tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * index)
    tables[tag.decode("latin-1")] = offset
  return tables


def _bitmap_glyphs(data, cblc, cbdt, path):
  """Yields a Glyph per PNG bitmap of the CBLC/CBDT tables' largest strike."""
  (num_sizes,) = struct.unpack_from(">I", data, cblc + 4)
  if num_sizes == 0:
    return
  # BitmapSize records are 48 bytes; byte 44 of each is ppemX. The largest
  # strike is the one a renderer scales down from, so it is the one read.
  records = [cblc + 8 + 48 * index for index in range(num_sizes)]
  record = max(records, key=lambda offset: data[offset + 44])
  array_offset, _, num_subtables = struct.unpack_from(">III", data, record)
  array = cblc + array_offset
  for index in range(num_subtables):
    first, last, extra = struct.unpack_from(">HHI", data, array + 8 * index)
    subtable = array + extra
    index_format, image_format, image_offset = struct.unpack_from(">HHI", data, subtable)
    if image_format not in _PNG_HEADER_BYTES:
      raise DataError(f"Font {path} stores bitmaps in CBDT image format {image_format}; "
                      f"only the PNG formats 17, 18 and 19 are read.")
    for glyph_id, start, end in _glyph_locations(data, subtable, index_format, first, last, path):
      if end > start:  # An empty range is a glyph without a bitmap.
        yield _read_glyph(data, cbdt + image_offset + start, image_format, glyph_id)


def _glyph_locations(data, subtable, index_format, first, last, path):
  """(glyph ID, start, end) per glyph of an IndexSubTable; offsets are from its image data."""
  count = last - first + 1
  if index_format in (1, 3):  # uint32 or uint16 offsets, one more than glyphs.
    code = "I" if index_format == 1 else "H"
    offsets = struct.unpack_from(f">{count + 1}{code}", data, subtable + 8)
    return [(first + i, offsets[i], offsets[i + 1]) for i in range(count)]
  if index_format == 4:  # (glyph ID, uint16 offset) pairs for sparse ranges.
    (num_glyphs,) = struct.unpack_from(">I", data, subtable + 8)
    pairs = struct.unpack_from(f">{2 * (num_glyphs + 1)}H", data, subtable + 12)
    return [(pairs[2 * i], pairs[2 * i + 1], pairs[2 * i + 3]) for i in range(num_glyphs)]
  raise DataError(f"Font {path} indexes bitmaps with CBLC index format {index_format}; "
                  f"only formats 1, 3 and 4 (variable-size PNGs) are read.")


def _read_glyph(data, offset, image_format, glyph_id):
  height, width = 0, 0
  if image_format in (17, 18):  # Small and big glyph metrics both start height, width.
    height, width = data[offset], data[offset + 1]
  offset += _PNG_HEADER_BYTES[image_format]
  (length,) = struct.unpack_from(">I", data, offset)
  png = data[offset + 4:offset + 4 + length]
  if len(png) != length:
    raise struct.error(f"glyph {glyph_id}'s PNG needs {length} bytes, {len(png)} remain")
  if not height:  # Format 19 keeps metrics in CBLC; the PNG header has the size too.
    width, height = struct.unpack_from(">II", png, 16)
  return Glyph(glyph_id=glyph_id, width=width, height=height, png=png)


def _unicode_cmap(data, cmap):
  """{code point: glyph ID} from the (3, 10) format-12 subtable, {} if the font has none."""
  if cmap is None:
    return {}
  _, num_subtables = struct.unpack_from(">HH", data, cmap)
  for index in range(num_subtables):
    platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * index)
    subtable = cmap + offset
    (subtable_format,) = struct.unpack_from(">H", data, subtable)
    if (platform, encoding) in ((3, 10), (0, 4)) and subtable_format == 12:
      (num_groups,) = struct.unpack_from(">I", data, subtable + 12)
      mapping = {}
      for group in range(num_groups):
        start, end, glyph = struct.unpack_from(">III", data, subtable + 16 + 12 * group)
        mapping.update((code, glyph + code - start) for code in range(start, end + 1))
      return mapping
  return {}


def _ligatures(data, gsub):
  """{ligature glyph: (first, *other component glyphs)} of every ligature
  substitution in the 'GSUB' table, {} if the font has none. The first lookup
  that defines a ligature glyph wins."""
  if gsub is None:
    return {}
  (lookup_list,) = struct.unpack_from(">H", data, gsub + 8)
  lookup_list += gsub
  (num_lookups,) = struct.unpack_from(">H", data, lookup_list)
  ligatures = {}
  for lookup_offset in struct.unpack_from(f">{num_lookups}H", data, lookup_list + 2):
    lookup = lookup_list + lookup_offset
    lookup_type, _, num_subtables = struct.unpack_from(">HHH", data, lookup)
    for subtable_offset in struct.unpack_from(f">{num_subtables}H", data, lookup + 6):
      subtable, subtable_type = lookup + subtable_offset, lookup_type
      if subtable_type == _EXTENSION_LOOKUP:
        _, subtable_type, extension_offset = struct.unpack_from(">HHI", data, subtable)
        subtable += extension_offset
      if subtable_type == _LIGATURE_LOOKUP:
        for glyph, components in _ligature_subtable(data, subtable):
          ligatures.setdefault(glyph, components)
  return ligatures


def _ligature_subtable(data, subtable):
  """Yields (ligature glyph, component glyphs) of a LigatureSubstFormat1 subtable."""
  _, coverage, num_sets = struct.unpack_from(">HHH", data, subtable)
  first_glyphs = _coverage(data, subtable + coverage)
  set_offsets = struct.unpack_from(f">{num_sets}H", data, subtable + 6)
  for first, set_offset in zip(first_glyphs, set_offsets):
    ligature_set = subtable + set_offset
    (num_ligatures,) = struct.unpack_from(">H", data, ligature_set)
    for offset in struct.unpack_from(f">{num_ligatures}H", data, ligature_set + 2):
      glyph, num_components = struct.unpack_from(">HH", data, ligature_set + offset)
      others = struct.unpack_from(f">{num_components - 1}H", data, ligature_set + offset + 4)
      yield glyph, (first,) + others


def _coverage(data, coverage):
  """The glyph IDs of a Coverage table (format 1: a list; format 2: ranges), in coverage order."""
  coverage_format, count = struct.unpack_from(">HH", data, coverage)
  if coverage_format == 1:
    return struct.unpack_from(f">{count}H", data, coverage + 4)
  glyphs = []
  for index in range(count):
    start, end, _ = struct.unpack_from(">HHH", data, coverage + 4 + 6 * index)
    glyphs.extend(range(start, end + 1))
  return glyphs


def _name(data, name, name_id):
  """A 'name' table string (Windows Unicode record), "" if absent."""
  if name is None:
    return ""
  _, count, strings = struct.unpack_from(">HHH", data, name)
  for index in range(count):
    platform, _, _, record_id, length, offset = struct.unpack_from(
        ">6H", data, name + 6 + 12 * index)
    if record_id == name_id and platform in (0, 3):
      start = name + strings + offset
      return data[start:start + length].decode("utf-16-be", errors="replace")
  return ""


def parse_background(text):
  """"white", "black" or "#rrggbb" -> (r, g, b) in 0..255."""
  if text in BACKGROUNDS:
    return BACKGROUNDS[text]
  if len(text) == 7 and text.startswith("#"):
    try:
      return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    except ValueError:
      pass
  raise DataError(f"--background={text} is not white, black or a #rrggbb colour.")


def canvas_side(glyphs):
  """The side of the square canvas that holds the largest bitmap (136 for Noto Color Emoji)."""
  return max(max(glyph.width, glyph.height) for glyph in glyphs)


def render(glyphs, resolution, background=(255, 255, 255), side=None):
  """Renders glyphs as uint8 RGB squares; drops those with no opaque pixel.

  Args:
    glyphs: a sequence of Glyph.
    resolution: the output side, at most `side` (area averaging only shrinks).
    background: (r, g, b) the bitmaps are alpha-composited over.
    side: the canvas side; default canvas_side(glyphs). Every glyph is drawn
      at the same scale, side -> resolution.

  Returns:
    (uint8 [K, resolution, resolution, 3], the glyph IDs that rendered empty),
    K = len(glyphs) - number of empty glyphs, in the order given.
  """
  side = side or canvas_side(glyphs)
  if resolution > side:
    raise DataError(f"--resolution={resolution} is larger than the font's {side}x{side} "
                    f"glyph canvas; choose {2 ** int(math.log2(side))} or less.")
  background = np.asarray(background, np.float32)
  images, empty = [], []
  for start in range(0, len(glyphs), _RENDER_CHUNK):
    canvases = []
    for glyph in glyphs[start:start + _RENDER_CHUNK]:
      canvas = _centred_on_canvas(glyph, side, background)
      if canvas is None:
        empty.append(glyph.glyph_id)
      else:
        canvases.append(canvas)
    if canvases:
      resized = tf.image.resize(np.stack(canvases), (resolution, resolution), method="area")
      images.append(tf.saturate_cast(tf.round(resized), tf.uint8).numpy())
  if not images:
    return np.zeros([0, resolution, resolution, 3], np.uint8), empty
  return np.concatenate(images), empty


def _centred_on_canvas(glyph, side, background):
  """float32 [side, side, 3]: the glyph's opaque part centred over the background; None if empty."""
  rgba = tf.io.decode_png(glyph.png, channels=4).numpy()
  alpha = rgba[..., 3]
  rows, columns = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
  if rows.size == 0:
    return None
  content = rgba[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1].astype(np.float32)
  height, width = content.shape[:2]
  opacity = content[..., 3:] / 255.0
  canvas = np.empty([side, side, 3], np.float32)
  canvas[:] = background
  top, left = (side - height) // 2, (side - width) // 2
  canvas[top:top + height, left:left + width] = (
      content[..., :3] * opacity + background * (1.0 - opacity))
  return canvas


def describe(font, glyph_set, num_glyphs, num_empty, side, resolution, background_text):
  """The dataset's one-line source: font, version, licence, counts, canvas, background."""
  return (f"emoji font {font.path} ({font.family}, {font.version}): {num_glyphs} colour bitmaps "
          f"({'every bitmap' if glyph_set == 'all' else 'those one code point maps to'}; "
          f"{num_empty} empty skipped), centred on a {side}x{side} {background_text} canvas, "
          f"area-averaged to {resolution}x{resolution}; the font says: "
          f"{font.license_description or 'no licence recorded'}")
