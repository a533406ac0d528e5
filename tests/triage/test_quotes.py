"""customer_words: quoted replies, signatures and legal footers go; the customer's words stay."""

from __future__ import annotations

import pytest

from pipeline.triage import quotes

CASES = [
    ("plain text stays", "服务器宕机了，请尽快处理。", "服务器宕机了，请尽快处理。"),
    ("empty", "", ""),
    ("crlf", "第一行\r\n第二行\r\n", "第一行\n第二行"),
    (
        "gmail on-wrote with > quote",
        "Still broken.\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support <support@vendor.example> wrote:\n"
        "> Please restart the router.\n> Regards",
        "Still broken.",
    ),
    (
        "gmail on-wrote wrapped over two lines",
        "Any update?\n\nOn Tue, Jan 7, 2025 at 9:15 AM Zhang San <zs@customer.example>\nwrote:\n> 服务器还是连不上",
        "Any update?",
    ),
    (
        "on-wrote without > (Outlook-style body below)",
        "OK.\n\nOn 6 Jan 2025 Support wrote:\nPlease restart the router.",
        "OK.",
    ),
    (
        "inline reply keeps the answers",
        "On Mon, Jan 6, 2025 Support <s@v.example> wrote:\n> Which version do you run?\nV200R021\n"
        "> Is the fan running?\nNo, it stopped.",
        "V200R021\nNo, it stopped.",
    ),
    (
        "inline reply under a wrapped attribution",
        "On Mon, Jan 6, 2025 at 10:00 AM Service Desk <\nsupport@vendor.example> wrote:\n> Which version?\nV200R021",
        "V200R021",
    ),
    (
        "outlook original message",
        "问题还在。\n\n-----Original Message-----\nFrom: Service Desk\nSent: Monday\nSubject: x\n\nold text",
        "问题还在。",
    ),
    (
        "outlook zh-CN 原始邮件",
        "问题还在。\n\n-----原始邮件-----\n发件人: 技术支持\n发送时间: 2025年1月6日 10:00\n\n请重启。",
        "问题还在。",
    ),
    (
        "outlook from/sent block under a rule",
        "收到。\n\n________________________________\nFrom: Service Desk <s@v.example>\nSent: Monday, 6 January 2025"
        "\nTo: Zhang San\nSubject: RE: x\n\nold text",
        "收到。",
    ),
    (
        "outlook 发件人/发送时间 block",
        "好的。\n\n发件人: 技术支持 <s@v.example>\n发送时间: 2025年1月6日 10:00\n收件人: 张三\n主题: 答复: x\n\n旧内容",
        "好的。",
    ),
    (
        "outlook zh-TW 寄件者/寄件日期 block",
        "收到，謝謝。\n\n寄件者: Service Desk\n寄件日期: 2025年1月6日 上午 10:00\n收件者: David\n\nold",
        "收到，謝謝。",
    ),
    (
        "bold html2text header block",
        "Thanks.\n\n**From:** Service Desk\n**Sent:** Monday\n\nold",
        "Thanks.",
    ),
    (
        "qq/foxmail 原始邮件 separator",
        '谢谢！\n\n------------------ 原始邮件 ------------------\n发件人: "技术支持"<s@v.example>;\n旧内容',
        "谢谢！",
    ),
    (
        "zh-CN 在...写道：",
        "已经重启，还是不行。\n\n在 2025年1月6日 10:00，技术支持 <s@v.example> 写道：\n> 请重启设备。",
        "已经重启，还是不行。",
    ),
    (
        "gmail zh-CN 于...写道：",
        "好的\n\n技术支持 <s@v.example> 于2025年1月6日周一 10:00写道：\n\n请重启设备。",
        "好的",
    ),
    (
        "zh-TW 於...寫道：",
        "好的，謝謝。\n\n於 2025年1月6日 週一 上午10:00，技術支援 <s@v.example> 寫道：\n> 工程師明天到。",
        "好的，謝謝。",
    ),
    ("stray > lines", "答复如下：\n> 引用的内容\n我的回答", "答复如下：\n我的回答"),
    ("full-width ＞ quote", "回答\n＞ 引用", "回答"),
    (
        "signature delimiter",
        "交换机端口全部down了。\n\n-- \nLi Wei\nSenior Network Engineer",
        "交换机端口全部down了。",
    ),
    ("sent from my iphone", "附件是日志。\n\nSent from my iPhone", "附件是日志。"),
    ("发自我的iPhone", "谢谢！\n\n发自我的iPhone", "谢谢！"),
    ("从我的华为手机发送", "收到\n\n从我的华为手机发送", "收到"),
    (
        "english sign-off and signature block",
        "The router is down.\n\nBest regards,\nJohn Smith\nNetwork Engineer\nACME Corp\nTel: +86 21 5555 0000",
        "The router is down.",
    ),
    (
        "thanks & regards",
        "请问License怎么导入？\n\nThanks & Regards\nWang Fang\nIT Department",
        "请问License怎么导入？",
    ),
    ("chinese 此致 敬礼", "请尽快处理。\n\n此致\n敬礼\n张三\n某某银行", "请尽快处理。"),
    ("chinese 谢谢！ then name", "设备故障，请处理。\n谢谢！\n李四\n电话：13800000000", "设备故障，请处理。"),
    ("a sign-off alone is the message", "谢谢！", "谢谢！"),
    (
        "sign-off followed by long text is not a signature",
        "Thanks,\n" + "\n".join(f"line {n} of a long explanation" for n in range(12)),
        "Thanks,\n" + "\n".join(f"line {n} of a long explanation" for n in range(12)),
    ),
    (
        "english confidentiality footer",
        "设备又重启了。\n\nThis email and any attachments are confidential and may be privileged. If you are not "
        "the intended recipient, please delete it.",
        "设备又重启了。",
    ),
    (
        "confidentiality notice heading",
        "故障已经恢复。\n\nCONFIDENTIALITY NOTICE: The information contained in this email is intended solely for"
        " the addressee.",
        "故障已经恢复。",
    ),
    (
        "chinese footer",
        "设备又出现告警了。\n\n本邮件及其附件含有ACME公司的保密信息，仅限于发送给上面地址中列出的个人或群组。",
        "设备又出现告警了。",
    ),
    ("traditional footer", "請盡快處理。\n\n本郵件及其附件可能含有機密資訊，僅供指定收件人使用。", "請盡快處理。"),
    ("免责声明 heading", "好的。\n\n免责声明：本邮件内容仅代表发件人观点。", "好的。"),
    (
        "'this email is' without confidentiality words stays",
        "This email is to report that the router is down.",
        "This email is to report that the router is down.",
    ),
    (
        "footer wrapped onto the next lines",
        "Please check.\n\nThis message and any attachments are intended\nsolely for the named recipient.",
        "Please check.",
    ),
    ("only a quote", "> 引用的内容\n> 更多引用", ""),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_customer_words(text: str, expected: str) -> None:
    assert quotes.customer_words(text) == expected
