"""README.md and docs/*.md: every link resolves, the README stays short, and faults.md names real tests."""

import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(REPO, "README.md")] + sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
# [text](target) and ![alt](target), target without a title; code spans are removed first.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _links(path):
  with open(path) as f:
    text = re.sub(r"```.*?```", "", f.read(), flags=re.DOTALL)
  text = re.sub(r"`[^`\n]*`", "", text)
  return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def broken_links(paths):
  """['PAGE: TARGET'] for each relative link whose file does not exist."""
  broken = []
  for path in paths:
    for target in _links(path):
      file_part = target.split("#")[0]
      if file_part and not os.path.exists(os.path.join(os.path.dirname(path), file_part)):
        broken.append(f"{os.path.relpath(path, REPO)}: {target}")
  return broken


def test_every_link_in_the_readme_and_docs_resolves_to_a_file_in_the_repository():
  assert len(PAGES) > 5
  assert broken_links(PAGES) == []


def test_a_link_to_a_missing_file_is_reported_with_its_page(tmp_path):
  page = tmp_path / "page.md"
  (tmp_path / "there.png").write_bytes(b"")
  page.write_text("![a](there.png) [b](gone.md#part) [c](https://example.org) `[d](nope.md)`\n")
  assert broken_links([str(page)]) == [f"{os.path.relpath(page, REPO)}: gone.md#part"]


def test_the_readme_is_at_most_300_lines():
  with open(os.path.join(REPO, "README.md")) as f:
    assert len(f.read().splitlines()) <= 300


def test_every_test_named_in_faults_md_exists():
  with open(os.path.join(REPO, "docs", "faults.md")) as f:
    named = re.findall(r"`(\w+_test\.py)(?:::(\w+))?`", f.read())
  assert len(named) > 40
  missing = []
  for file_name, test_name in named:
    path = os.path.join(REPO, "tests", file_name)
    if not os.path.exists(path):
      missing.append(file_name)
      continue
    with open(path) as f:
      if test_name and f"def {test_name}(" not in f.read():
        missing.append(f"{file_name}::{test_name}")
  assert missing == []
