"""The compose pipeline against SPEC §3.1–3.3 and §3.5."""

from __future__ import annotations

import re

import pytest

from helpers import KEYS, compose, decode, tracking
from linktrack.core.compose import MemoryLinkTable, Message
from linktrack.core.liquid import TemplateError
from linktrack.core.settings import SettingsError, TrackingSettings
from linktrack.core.tokens import split_path

TRACKED = re.compile(r"https://t\.example\.com/e/c/[A-Za-z0-9_\-]+/[0-9a-f]{64}")
PARAMS = TrackingSettings(
    tracking_domain="t.example.com",
    url_params={"utm_source": "linktrack", "utm_campaign": "{{ campaign.name }}"},
    add_cio_id=False,
    open_tracking=False,
)


def hrefs(html: str) -> list[str]:
    return re.findall(r"""href=["']?([^"'\s>]+)""", html)


def only_html(html: str, settings: TrackingSettings | None = None, **kwargs: object) -> str:
    out = compose(Message(html=html), settings=settings or PARAMS, **kwargs).html  # type: ignore[arg-type]
    assert out is not None
    return out


# -- 3.1.2 which links are tracked ---------------------------------------------------


def test_http_and_https_links_are_tracked() -> None:
    out = only_html('<a href="https://a.example/x">a</a> <a href="http://b.example/y">b</a>')
    first, second = hrefs(out)
    assert TRACKED.fullmatch(first) and TRACKED.fullmatch(second)
    assert decode(first).href.startswith("https://a.example/x?utm_source=linktrack")
    assert decode(second).href.startswith("http://b.example/y?")


def test_untracked_class_is_left_alone_byte_for_byte() -> None:
    html = '<a class="btn untracked" href="https://a.example/x?q=1&amp;r=2">a</a>'
    assert only_html(html) == html


def test_untracked_message_tracks_nothing_and_has_no_pixel() -> None:
    html = '<html><body><a href="https://a.example/">a</a></body></html>'
    composed = compose(Message(html=html), tracked=False)
    assert composed.html == html
    assert composed.links == []


@pytest.mark.parametrize(
    "href", ["mailto:a@example.com", "tel:+15551234", "sms:+15551234", "#top", "javascript:void(0)"]
)
def test_never_rewritten(href: str) -> None:
    html = f'<a href="{href}">x</a>'
    composed = compose(Message(html=html), settings=PARAMS)
    assert composed.html == html
    assert composed.warnings == []


@pytest.mark.parametrize(
    "href", ["www.example.com", "example.com/path", "/relative", "https:example.com/x"]
)
def test_links_without_protocol_are_warned_not_tracked(href: str) -> None:
    html = f'<a href="{href}">x</a>'
    composed = compose(Message(html=html), settings=PARAMS)
    assert composed.html == html
    assert [w.code for w in composed.warnings] == ["no_protocol"]
    assert composed.warnings[0].href == href


def test_liquid_rendering_to_no_protocol_is_warned() -> None:
    composed = compose(
        Message(html='<a href="{{ trigger.url }}">x</a>'),
        settings=PARAMS,
        scope={"trigger": {"url": "example.com"}},
    )
    assert composed.html == '<a href="example.com">x</a>'
    assert composed.warnings[0].code == "no_protocol"


# -- 3.1.3 link identity -------------------------------------------------------------


def test_personalised_link_is_one_link_for_every_recipient() -> None:
    message = Message(html='<a href="{{ trigger.custom_url }}">reset</a>')
    table = MemoryLinkTable()
    ids = set()
    for n in range(5):
        composed = compose(
            message,
            links=table,
            delivery_id=f"d{n}",
            scope={"trigger": {"custom_url": f"https://app.example/r/{n}"}},
        )
        (link,) = composed.links
        ids.add(link.link_id)
        assert decode(link.tracked_url).href == f"https://app.example/r/{n}"
    assert len(ids) == 1 and len(table.ids) == 1


def test_link_in_a_loop_is_one_link() -> None:
    message = Message(
        html='{% for p in trigger.products %}<a href="https://shop.example/p/{{ p }}">p</a>{% endfor %}'
    )
    composed = compose(message, scope={"trigger": {"products": [1, 2, 3]}})
    assert {link.link_id for link in composed.links} == {1}
    assert [link.position for link in composed.links] == [1, 2, 3]
    assert [decode(h).href for h in hrefs(composed.html or "")] == [
        "https://shop.example/p/1",
        "https://shop.example/p/2",
        "https://shop.example/p/3",
    ]


def test_data_cio_tag_groups_links() -> None:
    html = (
        '<a href="https://x.example/a?token=1" data-cio-tag="reset">1</a>'
        '<a href="https://x.example/b?token=2" data-cio-tag="reset">2</a>'
        '<a href="https://x.example/c">3</a>'
    )
    links = compose(Message(html=html, liquid=False)).links
    assert [link.link_id for link in links] == [1, 1, 2]
    assert links[0].key == "tag:reset" and links[0].tag == "reset"


def test_literal_body_gets_one_link_per_distinct_url() -> None:
    html = '<a href="https://x.example/a">1</a><a href="https://x.example/a">2</a><a href="https://x.example/b">3</a>'
    links = compose(Message(html=html, liquid=False)).links
    assert [link.link_id for link in links] == [1, 1, 2]


def test_position_is_the_ordinal_of_the_anchor() -> None:
    html = (
        '<a href="mailto:a@x.example">m</a><a href="https://x.example/1">1</a>'
        '<a name="no-href">n</a><a href="https://x.example/2">2</a>'
    )
    links = compose(Message(html=html)).links
    assert [link.position for link in links] == [2, 3]
    assert [decode(link.tracked_url).position for link in links] == [2, 3]


def test_links_produced_by_liquid_output_are_tracked_by_url() -> None:
    message = Message(html="<p>{{ trigger.snippet }}</p>")
    composed = compose(
        message,
        settings=PARAMS,
        scope={"trigger": {"snippet": '<a href="https://x.example/in-var">v</a>'}},
    )
    (link,) = composed.links
    assert link.key == "url:https://x.example/in-var"


# -- 3.1.4 URL parameters, 3.1.5 _cio_id ---------------------------------------------


def test_url_params_rendered_with_liquid_and_appended() -> None:
    out = only_html(
        '<a href="https://x.example/p?a=1#frag">x</a>', scope={"campaign": {"name": "Spring Sale"}}
    )
    assert decode(hrefs(out)[0]).href == (
        "https://x.example/p?a=1&utm_source=linktrack&utm_campaign=Spring%20Sale#frag"
    )


def test_existing_parameter_of_the_same_name_is_kept() -> None:
    out = only_html('<a href="https://x.example/?utm_source=mine">x</a>')
    assert decode(hrefs(out)[0]).href == ("https://x.example/?utm_source=mine&utm_campaign=")


@pytest.mark.parametrize("classes", ["disable-url-params", "untracked disable-url-params"])
def test_disable_url_params(classes: str) -> None:
    html = f'<a class="{classes}" href="https://x.example/p">x</a>'
    out = only_html(html)
    if "untracked" in classes:
        assert out == html
    else:
        assert decode(hrefs(out)[0]).href == "https://x.example/p"


def test_cio_id_added_when_enabled_and_not_when_disabled() -> None:
    html = '<a href="https://x.example/p?x=1">x</a>'
    on = TrackingSettings(tracking_domain="t.example.com", add_cio_id=True, open_tracking=False)
    off = TrackingSettings(tracking_domain="t.example.com", add_cio_id=False, open_tracking=False)
    assert decode(hrefs(only_html(html, on, cio_id="Ab12"))[0]).href.endswith("&_cio_id=Ab12")
    assert decode(hrefs(only_html(html, off, cio_id="Ab12"))[0]).href == "https://x.example/p?x=1"


def test_amp_entities_are_decoded_to_read_and_not_double_escaped() -> None:
    out = only_html('<a href="https://x.example/?a=1&amp;b=2&copy=3">x</a>')
    assert decode(hrefs(out)[0]).href.startswith("https://x.example/?a=1&b=2&copy=3&utm_source")


# -- 3.1.6 open pixel, 3.1.7 byte-exactness ------------------------------------------


def test_pixel_before_body_end_or_appended() -> None:
    settings = TrackingSettings(tracking_domain="t.example.com", open_tracking=True)
    out = only_html("<html><BODY><p>hi</p></BODY></html>", settings)
    assert re.search(r'<img src="https://t\.example\.com/e/o/[^"]+"[^>]*></BODY></html>$', out)
    path = re.search(r'src="https://t\.example\.com(/e/o/[^"]+)"', out)
    assert path is not None
    _, payload, signature = split_path(path.group(1))
    assert KEYS.verify_open(payload, signature).delivery_id == "dlv1"
    assert only_html("<p>fragment</p>", settings).startswith("<p>fragment</p><img ")


def test_workspace_open_tracking_off_wins() -> None:
    html = "<html><body>x</body></html>"
    assert only_html(html, TrackingSettings(open_tracking=False)) == html


def test_everything_but_hrefs_is_byte_identical() -> None:
    html = (
        "<!DOCTYPE html>\n<HTML><Body>\n<A\n  HREF = 'https://x.example/a?b=1&amp;c=2'\n"
        '  Class="x" >A</A>\n<!-- <a href="https://x.example/comment"> -->\n'
        '<script>var s = "<a href=\\"https://x.example/script\\">";</script>\n'
        "<style>a[href='https://x.example/style']{}</style>\n"
        '<textarea><a href="https://x.example/ta"></textarea><title><a href=x></title>\n'
        "<a href=https://x.example/unquoted>u</a> &nbsp;&copy; caf\u00e9\n</Body></HTML>"
    )
    composed = compose(Message(html=html, liquid=False), settings=PARAMS)
    out = composed.html or ""
    assert [decode(link.tracked_url).href.split("?")[0] for link in composed.links] == [
        "https://x.example/a",
        "https://x.example/unquoted",
    ]
    restored = out
    for link, original in zip(
        composed.links,
        ["https://x.example/a?b=1&amp;c=2", "https://x.example/unquoted"],
        strict=True,
    ):
        restored = restored.replace(link.tracked_url, original, 1)
    assert restored == html


# -- 3.1.8 text part and Outlook VML -------------------------------------------------


def test_plain_text_part_links_tracked() -> None:
    text = "Hi {{ customer.first_name }},\nsee https://x.example/a. Or www.example.com!\n{{ trigger.url }}\n"
    composed = Message(text=text).compose(
        tracking(
            PARAMS,
            scope={"customer": {"first_name": "Ann"}, "trigger": {"url": "https://x.example/p/9"}},
        )
    )
    out = composed.text or ""
    assert out.startswith("Hi Ann,\nsee https://t.example.com/e/c/")
    assert ". Or www.example.com!\n" in out
    urls = TRACKED.findall(out)
    assert [decode(u).href.split("?")[0] for u in urls] == [
        "https://x.example/a",
        "https://x.example/p/9",
    ]
    assert composed.links[1].key == "tpl:{{ trigger.url }}"
    assert [w.code for w in composed.warnings] == ["no_protocol"]


def test_outlook_vml_button_is_tracked() -> None:
    html = (
        '<!--[if mso]><v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" '
        'href="https://x.example/buy" style="width:200px"><center>Buy</center></v:roundrect>'
        '<![endif]--><!--[if !mso]><!-- --><a href="https://x.example/buy">Buy</a><!--<![endif]-->'
    )
    composed = compose(Message(html=html, liquid=False), settings=PARAMS)
    assert len(composed.links) == 2
    assert composed.links[0].link_id == composed.links[1].link_id
    assert "v:roundrect" in (composed.html or "") and "https://x.example/buy" not in (
        composed.html or ""
    )


def test_plain_comment_contents_are_not_tracked() -> None:
    html = '<!-- <a href="https://x.example/hidden">h</a> -->'
    assert only_html(html) == html


# -- 3.1.9 subject, 3.1.10 secrets ---------------------------------------------------


def test_subject_rendered_not_rewritten() -> None:
    message = Message(
        subject="Hi {{ customer.name }}: https://x.example",
        html='<a href="https://x.example">x</a>',
    )
    composed = compose(message, scope={"customer": {"name": "Bo"}})
    assert composed.subject == "Hi Bo: https://x.example"


def test_secret_looking_link_warns() -> None:
    composed = compose(
        Message(html='<a href="https://x.example/reset?token=abc">r</a>'), settings=PARAMS
    )
    assert [w.code for w in composed.warnings] == ["secret_link"]


# -- 3.2 cio_link ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "{% cio_link url:https://x.example/c?a=1 %}",
        "{% cio_link url:'https://x.example/c?a=1' %}",
        '{% cio_link url:"https://x.example/c?a=1" track:true url_params:true %}',
        "{% cio_link url:trigger.link %}",
    ],
)
def test_cio_link_tracks(tag: str) -> None:
    composed = compose(
        Message(html=f"<p>{tag}</p>"),
        settings=PARAMS,
        scope={"trigger": {"link": "https://x.example/c?a=1"}, "campaign": {"name": "C"}},
    )
    (url,) = TRACKED.findall(composed.html or "")
    assert decode(url).href == "https://x.example/c?a=1&utm_source=linktrack&utm_campaign=C"


def test_cio_link_track_false() -> None:
    composed = compose(
        Message(
            html="{% cio_link url:https://x.example/a track:false %}|"
            "{% cio_link url:https://x.example/b track:false url_params:false %}"
        ),
        settings=PARAMS,
        scope={"campaign": {"name": "C"}},
    )
    assert composed.html == (
        "https://x.example/a?utm_source=linktrack&utm_campaign=C|https://x.example/b"
    )
    assert composed.links == []


def test_cio_link_tracks_mailto_and_href_not_double_tracked() -> None:
    composed = compose(
        Message(html='<a href="{% cio_link url:mailto:help@x.example %}">mail</a>'),
        settings=PARAMS,
    )
    (link,) = composed.links
    assert decode(link.tracked_url).href == "mailto:help@x.example"
    assert composed.html == f'<a href="{link.tracked_url}">mail</a>'


@pytest.mark.parametrize(
    "source,line",
    [("ok\n{% cio_link %}", 2), ("a\nb\n{% cio_link url:x track:maybe %}", 3), ("{% if %}", 1)],
)
def test_liquid_errors_name_the_line(source: str, line: int) -> None:
    with pytest.raises(TemplateError, match=f"line {line}"):
        Message(html=source)


# -- 3.3 SMS and WhatsApp, 3.4 push ----------------------------------------------------


def test_sms_links_tracked_without_url_params() -> None:
    composed = compose(
        Message(channel="sms", text="Your order: https://x.example/o/1 Reply STOP"),
        settings=PARAMS,
        channel="sms",
    )
    (url,) = TRACKED.findall(composed.text or "")
    assert decode(url).href == "https://x.example/o/1"
    assert (composed.text or "").endswith(" Reply STOP")


def test_sms_url_params_only_through_cio_link() -> None:
    composed = compose(
        Message(channel="sms", text="Go {% cio_link url:https://x.example/o %}"),
        settings=PARAMS,
        channel="sms",
        scope={"campaign": {"name": "C"}},
    )
    (url,) = TRACKED.findall(composed.text or "")
    assert decode(url).href == "https://x.example/o?utm_source=linktrack&utm_campaign=C"
    assert len(composed.links) == 1


def test_whatsapp_literal_link_is_warned_and_cio_link_tracked() -> None:
    composed = compose(
        Message(
            channel="whatsapp",
            text="See https://x.example/fixed and {% cio_link url:https://x.example/var %}",
        ),
        settings=PARAMS,
        channel="whatsapp",
    )
    out = composed.text or ""
    assert "https://x.example/fixed" in out
    (url,) = TRACKED.findall(out)
    assert decode(url).href.startswith("https://x.example/var")
    assert [w.code for w in composed.warnings] == ["whatsapp_literal_link"]


@pytest.mark.parametrize("channel", ["push", "in_app"])
def test_push_not_tracked_unless_cio_link(channel: str) -> None:
    composed = compose(
        Message(
            channel=channel, text="Open https://x.example/a {% cio_link url:https://x.example/b %}"
        ),  # type: ignore[arg-type]
        settings=PARAMS,
        channel=channel,
    )
    out = composed.text or ""
    assert out.startswith("Open https://x.example/a ")
    (url,) = TRACKED.findall(out)
    assert decode(url).href.startswith("https://x.example/b")


# -- 3.5 tracked URL format and settings -------------------------------------------------


def test_tracking_domain_and_http_warning() -> None:
    settings = TrackingSettings.from_dict(
        {"tracking_domain": "links.brand.example", "tracking_https": False}
    )
    out = only_html('<a href="https://x.example">x</a>', settings)
    assert hrefs(out)[0].startswith("http://links.brand.example/e/c/")
    assert "HSTS" in settings.warnings()[0]


@pytest.mark.parametrize(
    "data",
    [
        {"tracking_domain": "bad domain"},
        {"tracking_domain": "x.example/path"},
        {"add_cio_id": "yes"},
        {"url_params": {"a": 1}},
        {"nope": True},
    ],
)
def test_bad_settings_rejected(data: dict[str, object]) -> None:
    with pytest.raises(SettingsError):
        TrackingSettings.from_dict(data)


def test_cio_link_inside_a_block_renders() -> None:
    composed = compose(
        Message(html="{% if true %}<p>{% cio_link url:https://x.example/in-if %}</p>{% endif %}"),
        settings=PARAMS,
        scope={"campaign": {"name": "C"}},
    )
    (url,) = TRACKED.findall(composed.html or "")
    assert decode(url).href.startswith("https://x.example/in-if")


def test_anchor_inside_a_raw_block_is_tracked_and_kept() -> None:
    html = '{% raw %}<a href="https://x.example/raw">r</a>{% endraw %} {{ "{{" }}'
    composed = compose(Message(html=html), settings=PARAMS)
    (link,) = composed.links
    assert decode(link.tracked_url).href.startswith("https://x.example/raw")
    assert (composed.html or "").endswith("</a> {{")


def test_pixel_inside_and_outside_blocks_and_positions_with_loops() -> None:
    settings = TrackingSettings(tracking_domain="t.example.com", open_tracking=True)
    html = (
        "<html><body>{% for i in (1..2) %}<a href='https://x.example/{{ i }}'>i</a>{% endfor %}"
        "<a href='https://x.example/last'>l</a></body></html>"
    )
    composed = compose(Message(html=html), settings=settings)
    assert [link.position for link in composed.links] == [1, 2, 3]
    assert (composed.html or "").count("/e/o/") == 1
    assert re.search(r"<img [^>]+></body></html>$", composed.html or "")


# The pipeline marks href values with private-use characters absent from the template;
# a person's or trigger's value may still hold them (icon fonts use U+E000 and up).
_MARKER_VALUES = ["A\ue002B", "\ue003x\ue004", "\ue0000\ue001https://forged.example/\ue002"]


@pytest.mark.parametrize("value", _MARKER_VALUES)
def test_a_value_holding_marker_characters_is_kept_in_a_text_part(value: str) -> None:
    composed = compose(
        Message(text='Hi {{ name }} see https://x.example/t {{ "https://x.example/lit" }}'),
        settings=PARAMS, scope={"name": value},
    )  # fmt: skip
    text = composed.text or ""
    assert text.startswith(f"Hi {value} see https://t.example.com/e/c/")
    own, literal = composed.links
    assert decode(own.tracked_url).href.startswith("https://x.example/t")
    assert decode(literal.tracked_url).href.startswith("https://x.example/lit")


@pytest.mark.parametrize("value", _MARKER_VALUES)
@pytest.mark.parametrize("extra", ["{% raw %}{% endraw %}", "{{ anchor }}"])
def test_a_value_holding_marker_characters_is_kept_in_html(value: str, extra: str) -> None:
    """The marker path: a template with a raw block, or output that writes an anchor."""
    message = Message(html=f'<a href="https://x.example/{{{{ v }}}}">{{{{ v }}}}</a>{extra}')
    scope = {"v": value, "anchor": "<a href=x>"}
    plain = compose(message, settings=PARAMS, scope=scope, tracked=False).html
    assert plain == f'<a href="https://x.example/{value}">{value}</a>' + (
        "<a href=x>" if "anchor" in extra else ""
    )
    composed = compose(message, settings=PARAMS, scope=scope)
    link = composed.links[0]
    assert link.url == f"https://x.example/{value}"
    assert (composed.html or "").startswith(f'<a href="{link.tracked_url}">{value}</a>')


def test_an_anchor_inside_liquid_markup_is_left_to_liquid() -> None:
    """A string in a tag still compiles and compares as written; one in an output is what
    the output writes, tracked as such (and left alone untracked)."""
    html = (
        '{% if v == "<a href=https://x.example/s>" %}same{% endif %}'
        '{{ "<a href=https://x.example/o>" }}'
    )
    scope = {"v": "<a href=https://x.example/s>"}
    plain = compose(Message(html=html), settings=PARAMS, scope=scope, tracked=False).html
    assert plain == "same<a href=https://x.example/o>"
    composed = compose(Message(html=html), settings=PARAMS, scope=scope)
    (link,) = composed.links
    assert decode(link.tracked_url).href.startswith("https://x.example/o")
    assert composed.html == f"same<a href={link.tracked_url}>"
