"""The SVG sanitizer against hostile uploads: each attack is refused or comes out harmless."""

import pytest

from seatmaps.svg import SvgRejected, import_svg, sanitize_svg

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'


def svg(body: str, open_tag: str = SVG_OPEN) -> bytes:
    return f"{open_tag}{body}</svg>".encode()


def assert_harmless(text: str) -> None:
    """Nothing in the output can run script or fetch anything."""
    lowered = text.replace(' xmlns="http://www.w3.org/2000/svg"', "").lower()
    for needle in ("<script", "javascript:", "onload", "onclick", "onerror", "foreignobject",
                   "http://", "https://", "<style", "data:"):  # fmt: skip
        assert needle not in lowered, needle


def test_script_elements_are_removed_with_their_content():
    # given an SVG with a script element among the seats
    upload = svg('<script>alert(document.cookie)</script><circle data-seat="A-1" r="4"/>')
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then the script and its text are gone, the seat stays, and the report says so
    assert_harmless(text)
    assert "alert" not in text
    assert 'data-seat="A-1"' in text
    assert report["removed_elements"] == {"script": 1}


def test_event_handler_attributes_are_removed():
    # given handlers on the root and on a seat
    upload = svg(
        '<circle data-seat="A-1" r="4" onclick="steal()" onmouseover="steal()"/>',
        open_tag=SVG_OPEN.replace(">", ' onload="steal()">'),
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then no on* attribute survives and each is counted
    assert "steal" not in text
    assert report["removed_attributes"] == {"onload": 1, "onclick": 1, "onmouseover": 1}


@pytest.mark.parametrize(
    "href",
    [
        'xlink:href="javascript:alert(1)"',
        'href="javascript:alert(1)"',
        'href=" jav&#x09;ascript:alert(1)"',
        'href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="',
    ],
)
def test_javascript_and_data_hrefs_are_removed(href):
    # given a use element pointing at script or an inline document
    upload = svg(f'<use {href}/><circle data-seat="A-1" r="4"/>')
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then the href is gone (the harmless element may stay)
    assert_harmless(text)
    assert "alert" not in text and "base64" not in text
    assert report["removed_attributes"] == {"href (not a local #reference)": 1}


def test_links_and_animations_that_could_rewrite_hrefs_are_removed():
    # given an <a> with a javascript: link and an <animate>/<set> that would set one
    upload = svg(
        '<a href="javascript:alert(1)"><circle r="4"/></a>'
        '<use href="#x"><set attributeName="href" to="javascript:alert(1)"/></use>'
        '<animate attributeName="href" values="javascript:alert(1)"/>'
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then none of them survives
    assert_harmless(text)
    assert report["removed_elements"] == {"a": 1, "set": 1, "animate": 1}


def test_external_use_references_are_removed_and_local_ones_kept():
    # given one use of another file and one of a local symbol
    upload = svg(
        '<defs><circle id="chair" r="4"/></defs>'
        '<use xlink:href="https://evil.example/sprites.svg#chair"/>'
        '<use xlink:href="#chair" x="10" y="10"/>'
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then the external reference is dropped, the local one kept (as SVG 2 ``href``)
    assert_harmless(text)
    assert '<use href="#chair" x="10" y="10"/>' in text
    assert report["removed_attributes"] == {"href (not a local #reference)": 1}


def test_foreign_object_is_removed_with_its_html():
    # given HTML smuggled in a foreignObject
    upload = svg(
        '<foreignObject width="100" height="100">'
        '<iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:alert(1)"/>'
        "</foreignObject><rect width='5' height='5'/>"
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then the whole subtree is gone
    assert_harmless(text)
    assert "iframe" not in text
    assert report["removed_elements"] == {"foreignObject": 1}


def test_style_elements_and_external_urls_in_styles_are_removed():
    # given a <style> element and style/fill values that load URLs
    upload = svg(
        "<style>@import url(https://evil.example/x.css);</style>"
        '<rect style="fill:red;background-image:url(https://evil.example/t.png)" '
        'width="5" height="5"/>'
        '<rect fill="url(https://evil.example/p.svg#g)" width="5" height="5"/>'
        '<rect style="fill:url(&quot;https://evil.example/g&quot;)" width="5" height="5"/>'
        '<rect fill="url(#gradient)" style="stroke:blue" width="5" height="5"/>'
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then only the harmless paint survives
    assert_harmless(text)
    assert 'style="fill:red"' in text
    assert 'fill="url(#gradient)" style="stroke:blue"' in text
    assert report["removed_elements"] == {"style": 1}
    assert report["removed_attributes"] == {
        "style: background-image": 1,
        "fill (external or script reference)": 1,
        "style: fill": 1,
    }


def test_nested_use_chains_are_broken():
    # given the SVG form of the billion laughs: each level uses the previous one ten times
    levels = ['<g id="l0"><circle r="1"/></g>']
    for level in range(1, 6):
        uses = "".join(f'<use href="#l{level - 1}"/>' for _ in range(10))
        levels.append(f'<g id="l{level}">{uses}</g>')
    upload = svg("<defs>" + "".join(levels) + '</defs><use href="#l5"/>')
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then only the uses of a plain shape group remain: drawing stays linear in file size
    assert text.count("<use") == 10
    assert report["removed_elements"] == {"use (refers to another use)": 41}


def test_external_entity_is_refused():
    # given the classic XXE reading a local file
    upload = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + svg("<text>&xxe;</text>")
    )
    # when it is parsed
    # then it is refused before anything is read
    with pytest.raises(SvgRejected, match="DTD or entities") as refused:
        sanitize_svg(upload)
    assert refused.value.reason == "dtd"


def test_billion_laughs_is_refused():
    # given nested entity definitions that expand to gigabytes
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    upload = f'<?xml version="1.0"?><!DOCTYPE svg [{"".join(entities)}]>'.encode() + svg(
        "<text>&lol9;</text>"
    )
    # when it is parsed
    # then it is refused with a clear reason
    with pytest.raises(SvgRejected, match="entity-expansion"):
        sanitize_svg(upload)


def test_external_dtd_is_refused():
    # given a DOCTYPE pointing at a remote DTD
    upload = b'<!DOCTYPE svg SYSTEM "https://evil.example/x.dtd">' + svg("")
    # when it is parsed
    # then it is refused
    with pytest.raises(SvgRejected) as refused:
        sanitize_svg(upload)
    assert refused.value.reason == "dtd"


def test_oversize_files_are_refused_before_parsing():
    # given a file one byte over the limit
    upload = svg("<title>" + "x" * 2000 + "</title>")
    # when it is imported with a limit just below its size
    # then it is refused, naming the limit
    with pytest.raises(SvgRejected, match="limit") as refused:
        import_svg(upload, max_bytes=len(upload) - 1)
    assert refused.value.reason == "too_large"
    # and it passes at exactly the limit
    import_svg(upload, max_bytes=len(upload))


def test_the_default_size_limit_comes_from_settings(settings):
    # given a site limit of 1 kB
    settings.SEATMAP_SVG_MAX_BYTES = 1024
    # when a 2 kB file is sanitized
    # then it is refused
    with pytest.raises(SvgRejected, match="1,024"):
        sanitize_svg(svg("<title>" + "x" * 2048 + "</title>"))


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><circle", "malformed"),
        (b"<html><body/></html>", "not_svg"),
        (b"<svg>&undefined;</svg>", "malformed"),
        (b"<svg>" + b"<g>" * 150 + b"</g>" * 150 + b"</svg>", "too_deep"),
    ],
)
def test_unusable_files_are_refused_with_a_reason(upload, reason):
    # given a broken, non-SVG or absurdly nested file
    # when it is parsed
    # then it is refused with a stable reason code
    with pytest.raises(SvgRejected) as refused:
        sanitize_svg(upload)
    assert refused.value.reason == reason


def test_foreign_namespaces_and_comments_are_dropped_but_text_is_escaped():
    # given editor metadata, a comment, and text that looks like markup
    upload = svg(
        '<sodipodi:namedview xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"/>'
        "<!-- <script>alert(1)</script> -->"
        "<text x='1' y='2'>&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;</text>"
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then metadata and comment are gone and the text stays text
    assert "namedview" not in text and "<!--" not in text
    assert "&lt;script&gt;" in text and "<script" not in text
    assert report["removed_elements"] == {"sodipodi:namedview": 1}


def test_clean_files_pass_through_unchanged_in_substance():
    # given an ordinary drawing
    upload = svg(
        '<g id="north" transform="translate(10 20)" fill="#ccc">'
        "<title>North stand</title>"
        '<circle data-seat="N-1-1" data-section="N" data-row="1" data-number="1" '
        'cx="5" cy="5" r="4"/>'
        '<text x="0" y="-5" font-size="12">North</text></g>'
    )
    # when it is sanitized
    text, report = sanitize_svg(upload)
    # then it comes out equivalent, with nothing reported removed
    assert text == upload.decode().replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert report["removed_elements"] == {} and report["removed_attributes"] == {}
