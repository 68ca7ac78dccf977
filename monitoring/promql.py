"""The metric names a PromQL expression (or a Grafana query using $variables) refers to.

A small lexer, enough for the expressions K2 writes: strings, label matchers, ranges, grouping clauses
and function calls are removed; what remains of the identifiers are metric names. Every expression
is also parsed by promtool (the drift test), so a mistake here cannot hide a syntax error.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
     "bool", "atan2", "inf", "nan"}
)  # fmt: skip

#: Grafana's variables and what stands in for them when an expression is parsed.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$__interval": "1m"}


def substitute_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    # Template variables only occur inside label matchers' regexes ("$namespace"): any value parses.
    return re.sub(r"\$\{?\w+\}?", "x", expr)


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in KEYWORDS:
            continue  # a function call or a keyword
        if re.fullmatch(r"\d+[smhdwy]", name) or text[match.start() - 1 : match.start()].isdigit():
            continue
        names.add(name)
    return names
