"""K2's monitoring as code, in the kube-prometheus mixin style: alert rules (``alerts``), Grafana
dashboards (``dashboards``), promtool unit tests of the rules (``rule_tests``), the series they may use
(``series``), and ``generate``, which writes all of it to ``monitoring/generated/`` and into the Helm
chart (``charts/k2``). Run ``python -m monitoring.generate`` after changing any of it; a test fails
while the generated files differ from what the code produces.
"""
