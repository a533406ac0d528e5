"""HTML bodies as Outlook, Foxmail and QQ write them, turned into plain text."""

from __future__ import annotations

import pytest

from pipeline.mail import html


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("plain &amp; simple", "plain & simple"),
        ("<p>one</p><p>two</p>", "one\ntwo"),
        # Outlook: MsoNormal paragraphs, an empty paragraph for a blank line, conditional comments
        (
            "<html><head><style>p.MsoNormal{margin:0}</style><title>t</title></head><body>"
            "<!--[if gte mso 9]><xml><o:shapedefaults/></xml><![endif]-->"
            "<p class=MsoNormal>您好：<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>"
            "<p class=MsoNormal>交换机&nbsp;宕机 &lt;紧急&gt;</p></body></html>",
            "您好：\n\n交换机 宕机 <紧急>",
        ),
        # QQ / Foxmail: a div per line, <div><br></div> for a blank line
        ("<div>打印机卡纸</div><div><br></div><div>小王</div>", "打印机卡纸\n\n小王"),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        (
            "<table><tr><td>设备</td><td> 状态 </td></tr><tr><td>SW-01</td><td></td><td>离线</td></tr></table>",
            "设备\t状态\nSW-01\t离线",
        ),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<pre>  indented\n  code</pre>after", "  indented\n  code\nafter"),
        ("<script>alert(1)</script><style>x{}</style>visible", "visible"),
        ('<img src="cid:image001.png" alt="logo"><a href="http://x">link text</a>', "link text"),
        ("a\n\n\n\n<br><br><br><br>b", "a\n\nb"),
        ("<![\x00 broken <b>x</b>", "x"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html.html_to_text(markup) == text


@pytest.mark.parametrize(
    ("data", "charset"),
    [
        (b'<meta http-equiv=Content-Type content="text/html; charset=gb2312">', "gb2312"),
        (b'<html><head><meta charset="utf-8"></head>', "utf-8"),
        (b"<p>no meta</p>", None),
    ],
)
def test_meta_charset(data: bytes, charset: str | None) -> None:
    assert html.meta_charset(data) == charset
