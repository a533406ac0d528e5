"""grade: the level and the rule that decided, over the shipped policy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pipeline import triage
from pipeline.errors import ConfigError
from pipeline.records import Severity
from pipeline.triage import severity

CASES = [
    # (subject, text, level, reason)
    ("服务器宕机", "", 1, "level 1: outage rule matched '宕机'"),
    ("", "今天早上全网中断，请尽快处理", 1, "level 1: outage rule matched '全网中断'"),
    ("", "系統癱瘓了", 1, "level 1: outage rule matched '系統癱瘓'"),
    ("Router down", "", 1, "level 1: outage rule matched 'down'"),
    ("", "设备down了", 1, "level 1: outage rule matched 'down'"),
    ("", "The database server is not reachable.", 1, "level 1: outage rule matched 'not reachable'"),
    ("", "Total outage at HQ", 1, "level 1: outage rule matched 'outage'"),
    ("", "all APs went offline", 1, "level 1: outage rule matched 'went offline'"),
    # word edges: no "down" inside download / breakdown / downgrade
    ("", "Where can I download the firmware?", 4, "level 4: question rule matched 'download'"),
    ("", "Please send a cost breakdown", 3, "level 3: default, no rule matched"),
    ("", "can we downgrade?", 3, "level 3: default, no rule matched"),
    ("", "the network slowed down today", 3, "level 3: degradation rule matched 'slowed down'"),
    # the longer phrase wins an overlap
    ("", "网络偶尔会中断几秒钟", 4, "level 4: intermittent rule matched '偶尔会中断'"),
    ("", "间歇性中断", 4, "level 4: intermittent rule matched '间歇性中断'"),
    ("", "有時候會斷線", 4, "level 4: intermittent rule matched '有時候會斷線'"),
    ("", "部分用户无法访问", 3, "level 3: degradation rule matched '部分用户无法访问'"),
    ("", "partial outage in Beijing", 3, "level 3: degradation rule matched 'partial outage'"),
    ("", "sometimes the link goes down", 4, "level 4: intermittent rule matched 'sometimes the link goes down'"),
    ("", "温度过高，有宕机风险", 2, "level 2: outage_risk rule matched '温度过高'"),
    ("", "有中断风险", 2, "level 2: outage_risk rule matched '中断风险'"),
    # most severe wins among what is left
    ("请问如何配置", "现在业务中断了", 1, "level 1: outage rule matched '业务中断'"),
    ("", "主备倒换失败", 2, "level 2: outage_risk rule matched '主备倒换'"),
    ("", "大量丢包", 2, "level 2: outage_risk rule matched '大量丢包'"),
    ("", "有丢包", 3, "level 3: degradation rule matched '丢包'"),
    ("", "heavy packet loss on the WAN", 2, "level 2: outage_risk rule matched 'heavy packet loss'"),
    ("", "用户反映上网很慢", 3, "level 3: degradation rule matched '很慢'"),
    ("", "请问如何恢复出厂设置？", 4, "level 4: question rule matched '请问'"),
    ("", "How do I upgrade the firmware?", 4, "level 4: question rule matched 'How do'"),
    # explicit levels win over keywords
    ("P2: 丢包", "服务器宕机", 2, "level 2: explicit major rule matched 'P2'"),
    ("一级故障", "请问", 1, "level 1: explicit critical rule matched '一级故障'"),
    ("", "二級故障，網路很慢", 2, "level 2: explicit major rule matched '二級故障'"),
    ("Severity 1", "question", 1, "level 1: explicit critical rule matched 'Severity 1'"),
    ("", "故障等级：二级", 2, "level 2: explicit major rule matched '故障等级:二级'"),
    ("", "Ｐ３", 3, "level 3: explicit minor rule matched 'P3'"),
    ("", "紧急！设备告警", 1, "level 1: explicit critical rule matched '紧急'"),
    ("URGENT", "how to configure", 1, "level 1: explicit critical rule matched 'URGENT'"),
    ("", "不紧急，请问如何配置", 4, "level 4: explicit low rule matched '不紧急'"),
    ("", "not urgent, just a question", 4, "level 4: explicit low rule matched 'not urgent'"),
    ("", "P1 and P3 mentioned", 1, "level 1: explicit critical rule matched 'P1'"),
    ("", "port SP1 and P10", 3, "level 3: default, no rule matched"),
    ("", "设备等级10", 3, "level 3: default, no rule matched"),
    # a connection symptom asked about, not reported: level 3 ([severity.asked]) ...
    ("", "请问打印机无法连接网络怎么办？", 3, "level 3: outage rule matched '无法连接' in a question ('请问')"),
    ("请问打印机无法连接网络怎么办？", "", 3, "level 3: outage rule matched '无法连接' in a question ('请问')"),
    ("", "打印机无法连接网络，怎么办？", 3, "level 3: outage rule matched '无法连接' in a question ('怎么办')"),
    ("", "請問印表機無法連線怎麼辦？", 3, "level 3: outage rule matched '無法連線' in a question ('請問')"),
    ("", "How do I fix a printer that is unreachable on the network?", 3,
     "level 3: outage rule matched 'unreachable' in a question ('How do')"),
    ("", "The printer is not reachable, how can I fix it?", 3,
     "level 3: outage rule matched 'not reachable' in a question ('how can')"),
    ("", "How do I get the printer to connect to the network?", 4, "level 4: question rule matched 'How do'"),
    ("", "数据库服务器无法连接，请问怎么办？", 1, "level 1: outage rule matched '无法连接'"),
    ("", "ERP服务器连不上了，请问什么时候能恢复？", 1, "level 1: outage rule matched '连不上'"),
    ("", "Our production database is unreachable, how should we proceed?", 1,
     "level 1: outage rule matched 'unreachable'"),
    # ... but an outage however it is phrased: its reach, another outage phrase, or a report beside the question
    ("", "全厂网络无法连接，业务中断", 1, "level 1: outage rule matched '无法连接'"),
    ("", "请问全厂网络无法连接怎么办？", 1, "level 1: outage rule matched '无法连接'"),
    ("", "请问服务器宕机无法连接怎么办", 1, "level 1: outage rule matched '宕机'"),
    ("", "服务器无法连接。请问如何处理？", 1, "level 1: outage rule matched '无法连接'"),
    ("", "The whole plant network is unreachable, service interrupted.", 1,
     "level 1: outage rule matched 'unreachable'"),
    ("", "How do we fix it when all servers are unreachable?", 1, "level 1: outage rule matched 'unreachable'"),
    ("", "How do we fix this? The entire network is unreachable.", 1, "level 1: outage rule matched 'unreachable'"),
    # a switch is no user's device: asked or not, a switch that cannot be reached is an outage
    ("", "请问交换机频繁重启、无法连接怎么办", 1, "level 1: outage rule matched '无法连接'"),
    # nothing matched
    ("你好", "谢谢", 3, "level 3: default, no rule matched"),
    ("", "", 3, "level 3: default, no rule matched"),
]


@pytest.mark.parametrize(("subject", "text", "level", "reason"), CASES)
def test_grade(subject: str, text: str, level: int, reason: str, rules: triage.TriageRules) -> None:
    assert severity.grade(subject, text, rules.severity) == (Severity(level), reason)


def test_default_level_comes_from_policy(policy: dict[str, Any]) -> None:
    changed = copy.deepcopy(policy)
    changed["severity"]["default_level"] = 4
    rules = severity.SeverityRules.from_policy(changed)
    assert severity.grade("", "hello", rules) == (Severity.QUESTION, "level 4: default, no rule matched")


def test_a_department_adds_a_rule(policy: dict[str, Any]) -> None:
    changed = copy.deepcopy(policy)
    changed["severity"]["keywords"]["red_light"] = {"level": 2, "phrases": ["亮红灯"]}
    rules = severity.SeverityRules.from_policy(changed)
    assert severity.grade("", "设备一直亮红灯", rules) == (Severity.MAJOR, "level 2: red_light rule matched '亮红灯'")


def test_asked_level_one_grades_every_symptom_by_its_own_rule(policy: dict[str, Any]) -> None:
    changed = copy.deepcopy(policy)
    changed["severity"]["asked"]["level"] = 1
    rules = severity.SeverityRules.from_policy(changed)
    assert severity.grade("", "请问打印机无法连接网络怎么办？", rules) == (
        Severity.CRITICAL, "level 1: outage rule matched '无法连接'")


def test_a_policy_without_the_asked_table_grades_as_before(policy: dict[str, Any]) -> None:
    changed = copy.deepcopy(policy)
    del changed["severity"]["asked"]
    rules = severity.SeverityRules.from_policy(changed)
    assert rules.asked is None
    assert severity.grade("", "请问打印机无法连接网络怎么办？", rules)[0] == Severity.CRITICAL


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"default_level": 5}, "policy severity.default_level: expected a level 1-4, got 5"),
        ({"keywords": {"bad": {"level": 1, "regex": ["(unclosed"]}}}, "policy severity.keywords.bad: "),
        ({"keywords": {"bad": {"level": 0, "phrases": ["x"]}}}, "policy severity.keywords.bad.level: "),
        ({"keywords": {"bad": {"level": 1}}}, "policy severity.keywords.bad: no phrases and no regex"),
        ({"keywords": {"bad": {"level": 1, "phrases": "宕机"}}}, "policy severity.keywords.bad.phrases: "),
        ({"asked": {"level": 0}}, "policy severity.asked.level: expected a level 1-4, got 0"),
        ({"asked": {"symptoms": "无法连接"}}, "policy severity.asked.symptoms: expected a list of strings"),
        ({"asked": {"questions": []}}, "policy severity.asked.questions: expected a list of phrases"),
    ],
)
def test_bad_policy_names_the_key(policy: dict[str, Any], change: dict[str, Any], message: str) -> None:
    changed = copy.deepcopy(policy)
    for key, value in change.items():
        if isinstance(value, dict):
            changed["severity"][key] = {**changed["severity"][key], **value}
        else:
            changed["severity"][key] = value
    with pytest.raises(ConfigError) as caught:
        severity.SeverityRules.from_policy(changed)
    assert str(caught.value).startswith(message)


def test_missing_section() -> None:
    with pytest.raises(ConfigError, match=r"policy \[severity\] is missing"):
        severity.SeverityRules.from_policy({})
