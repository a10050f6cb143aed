"""The SVG charts: well-formed, escaped, on a round scale, readable with many days, a message when empty."""

import re
import xml.etree.ElementTree as ET

import pytest

from idp.console import charts
from idp.console.charts import Chart
from idp.console.charts import Series

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & "Co"'


def chart(categories=("a", "b"), *series, **kwargs):
    series = series or (Series("one", (1, 2)),)
    return Chart(id="c", title="T", desc="D", category_heading="H", categories=tuple(categories),
                 series=tuple(series), **kwargs)


def parse(markup):
    return ET.fromstring(str(markup))


def bar_rects(root):
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


@pytest.mark.parametrize(("top", "maximum", "ticks"), [
    (0, 1, [0, 1]),
    (1, 1, [0, 1]),
    (3, 3, [0, 1, 2, 3]),
    (7, 8, [0, 2, 4, 6, 8]),
    (12, 15, [0, 5, 10, 15]),
    (100, 100, [0, 25, 50, 75, 100]),
    (101, 150, [0, 50, 100, 150]),
    (9999, 10000, [0, 2500, 5000, 7500, 10000]),
])
def test_scale_rounds_up_to_whole_ticks(top, maximum, ticks):
    assert charts.scale(top) == (maximum, ticks)


@pytest.mark.parametrize(("count", "most", "shown"), [
    (5, 12, {0, 1, 2, 3, 4}),
    (12, 12, set(range(12))),
    (30, 12, {0, 3, 6, 9, 12, 15, 18, 21, 24, 27}),
    (366, 12, set(range(0, 366, 31))),
])
def test_day_labels_are_thinned_when_many(count, most, shown):
    assert charts.shown_labels(count, most) == shown


@pytest.mark.parametrize("draw", [charts.bars, charts.hbars])
def test_a_chart_is_well_formed_svg_with_title_and_desc(draw):
    root = parse(draw(chart(), empty_text="none"))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "T" and desc.text == "D"
    assert root.get("aria-labelledby") == title.get("id") and root.get("aria-describedby") == desc.get("id")


@pytest.mark.parametrize("draw", [charts.bars, charts.hbars])
def test_every_text_is_escaped(draw):
    hostile = Chart(id="c", title=HOSTILE, desc=HOSTILE, category_heading="H", categories=(HOSTILE, "b"),
                    series=(Series(HOSTILE, (1, 2)),))
    markup = str(draw(hostile, empty_text="none"))
    assert "<script>" not in markup
    root = parse(markup)  # escaped text keeps the document well-formed
    assert root.find(f"{SVG}title").text == HOSTILE
    assert HOSTILE in [t.text for t in root.iter(f"{SVG}text")]  # the legend
    assert f"{HOSTILE}, {HOSTILE}: 1" in [t.text for t in root.iter(f"{SVG}title")]  # a bar's tooltip


@pytest.mark.parametrize("draw", [charts.bars, charts.hbars])
@pytest.mark.parametrize("data", [
    chart(()),
    chart(("a", "b"), Series("one", (0, 0)), Series("two", (0, 0))),
])
def test_no_data_gives_a_message_not_a_chart(draw, data):
    markup = str(draw(data, empty_text="No data <here>"))
    assert "<svg" not in markup
    assert markup == '<p class="chart-empty" id="c">No data &lt;here&gt;</p>'


def test_stacked_bars_are_as_tall_as_the_sum_and_side_by_side_bars_as_each_value():
    data = chart(("d1", "d2"), Series("one", (2, 0)), Series("two", (2, 4)))
    stacked = bar_rects(parse(charts.bars(data, empty_text="", height=200)))
    # The axis tops at 4 (the highest sum): 2 of 4 is half the 200px plot.
    assert [float(r.get("height")) for r in stacked] == [100, 100, 200]
    assert [r.find(f"{SVG}title").text for r in stacked] == ["d1, one: 2", "d1, two: 2", "d2, two: 4"]
    grouped = bar_rects(parse(charts.bars(data, empty_text="", stacked=False, height=200)))
    assert [float(r.get("height")) for r in grouped] == [100, 100, 200]
    assert float(grouped[0].get("x")) < float(grouped[1].get("x"))  # side by side, not on top
    assert float(grouped[0].get("width")) * 2 == pytest.approx(float(stacked[0].get("width")), abs=0.2)


def test_each_series_has_its_own_pattern_and_a_legend_entry():
    data = chart(("d1",), *(Series(f"s{i}", (i + 1,)) for i in range(5)))
    root = parse(charts.bars(data, empty_text=""))
    patterns = root.findall(f"{SVG}defs/{SVG}pattern")
    assert len({p.get("id") for p in patterns}) == 5
    fills = [(p.find(f"{SVG}rect").get("fill"), len(list(p))) for p in patterns]
    assert len(set(fills)) == 5  # a different colour, and all but one a mark on it
    legend = root.find(f"{SVG}g[@class='legend']")
    assert [t.text for t in legend.iter(f"{SVG}text")] == ["s0", "s1", "s2", "s3", "s4"]
    assert {r.get("fill") for r in legend.iter(f"{SVG}rect")} == {f"url(#{p.get('id')})" for p in patterns}


def test_many_days_keep_only_some_axis_labels():
    days = tuple(f"2024-01-{d:02d}" for d in range(1, 31))
    data = chart(days, Series("one", tuple(range(30))), axis_labels=tuple(d[5:] for d in days))
    root = parse(charts.bars(data, empty_text=""))
    axis = [t.text for t in root.find(f"{SVG}g[@class='axis']").iter(f"{SVG}text")]
    assert "01-01" in axis and "01-04" in axis and "01-02" not in axis
    assert len([t for t in axis if re.fullmatch(r"\d\d-\d\d", t)]) == 10
    assert len(bar_rects(root)) == 29  # every non-zero day is drawn, labelled or not


def test_horizontal_bars_print_values_and_clip_long_names_but_keep_them_whole_in_the_tooltip():
    name = "Department of " + "Very Long Names " * 5
    data = chart((name, "Short"), Series("in", (10, 3)), Series("out", (0, 1)))
    root = parse(charts.hbars(data, empty_text=""))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"10", "3", "0", "1"} <= set(texts)
    label = next(t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None)
    assert label.find(f"{SVG}title").text == name
    assert "".join(label.itertext()).endswith("…")
    widths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in bar_rects(root)}
    assert widths[f"{name}, in: 10"] == pytest.approx(widths["Short, in: 3"] * 10 / 3, abs=0.2)
    assert f"{name}, out: 0" not in widths  # a zero draws no bar, only its value


def test_the_table_rows_match_the_series():
    data = chart(("a", "b"), Series("one", (1, 2)), Series("two", (3, 4)))
    assert data.rows() == [("a", (1, 3)), ("b", (2, 4))]
