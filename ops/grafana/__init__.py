"""Grafana dashboards as code: JSON models under ``dashboards/``, provisioning under
``provisioning/``; ``panels`` lists every panel's PromQL for checks against Prometheus.
"""
