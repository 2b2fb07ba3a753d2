"""The console's stylesheet in a real Chromium, without a node: how its rules place the
controls people click (the pages themselves are walked in test_console)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.web.console.pages import TEMPLATES

pytestmark = pytest.mark.e2e
STYLESHEET = (TEMPLATES.parent / "static" / "console.css").read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [800, 1280])
def test_a_checkbox_in_a_filter_row_sits_beside_its_words(browser: Any, width: int) -> None:
    """"Overdue only" on the cases page (and every checkbox of a filter row): the box right
    before its words, not centred in the 150 px the row gives its text inputs."""
    page = browser.new_page(viewport={"width": width, "height": 600})
    page.set_content(f"""<style>{STYLESHEET}</style><main>
        <form class="filters"><label>Kind<select><option>—</option></select></label>
        <label id="overdue"><input type="checkbox" name="overdue" value="1"> Overdue only</label>
        <label>Name<input name="q"></label><button type="submit">Filter</button></form></main>""")
    box = page.locator("#overdue input").bounding_box()
    words = page.evaluate("""() => {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector('#overdue').lastChild);
        return range.getBoundingClientRect().left; }""")
    assert box["width"] < 30, box
    assert 0 <= words - (box["x"] + box["width"]) < 12, (box, words)
    assert page.locator("input[name=q]").bounding_box()["width"] == 150  # text inputs keep it
    page.close()
