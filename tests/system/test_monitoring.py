"""The monitoring shipped with the stack: Prometheus alert rules checked and unit-tested by
promtool, the Grafana dashboard of the expected shape, and every expression in either
evaluated by a real Prometheus scraping a running server."""

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from app.config import Settings
from app.ops import metrics
from tests.servers import AppServer, free_port

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "liveupdates.json"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: apt-get install prometheus"
    return subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True)


def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in board["panels"] for target in panel["targets"]]


def our_metric_names() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if callable(describe) and getattr(value, "_name", None):
            for family in describe():
                base = family.name
                names |= {base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"}
    return names


def test_promtool_checks_the_rules_and_the_config_and_their_unit_tests_pass() -> None:
    for args in (("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml"),
                 ("test", "rules", "alerts_test.yml")):  # fmt: skip
        checked = promtool(*args)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    names = {rule["alert"] for rule in alert_rules()}
    assert {"LiveupdatesBrokerDown", "LiveupdatesDatabaseDown", "LiveupdatesDeliveriesLagging",
            "LiveupdatesSlowReaderDropsRising", "LiveupdatesServerErrors"} <= names  # fmt: skip
    tested = (PROMETHEUS / "alerts_test.yml").read_text()
    assert all(f"alertname: {name}" in tested for name in names)  # every alert is tested


def test_the_dashboard_has_the_expected_shape() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "liveupdates" and board["title"] and board["schemaVersion"] >= 36
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["type"] in ("timeseries", "stat", "gauge", "bargauge", "table")
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"} and panel["gridPos"]["w"] <= 24
        assert panel["datasource"]["uid"] == uid and panel["targets"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs))
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"])
    titles = " ".join(panel["title"].lower() for panel in board["panels"])
    for topic in ("readers", "deliveries", "slow-reader", "replays", "broker", "post latency",
                  "answers"):  # fmt: skip
        assert topic in titles, topic
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/liveupdates.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in mounts
    for service in ("prometheus", "grafana"):
        assert compose["services"][service]["profiles"] == ["monitoring"]


def test_every_metric_named_is_one_the_server_exports() -> None:
    known = our_metric_names() | {"up"}
    exprs = dashboard_exprs() + [str(rule["expr"]) for rule in alert_rules()]
    for expr in exprs:
        named = set(re.findall(r"\b(liveupdates_[a-z_]+|up)\b", expr))
        assert named and named <= known, (expr, named - known)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_real_prometheus_scrapes_a_server_and_evaluates_every_expression(
    settings: Settings, tmp_path: Path, clean_db: None
) -> None:
    server = AppServer(settings, tmp_path)
    await server.start()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(PROMETHEUS / "alerts.yml")],
                "scrape_configs": [
                    {
                        "job_name": "liveupdates",
                        "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
                    }
                ],
            }
        )  # fmt: skip
    )
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install prometheus"
    with (tmp_path / "prometheus.log").open("wb") as log:
        prometheus = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(150):
                try:
                    r = await client.get(
                        "/api/v1/query", params={"query": "liveupdates_dependency_up"}
                    )
                    if r.status_code == 200 and r.json()["data"]["result"]:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError((tmp_path / "prometheus.log").read_text()[-2000:])
            up = {s["metric"]["dependency"]: s["value"][1] for s in r.json()["data"]["result"]}
            assert up == {"database": "1", "broker": "1"}
            for expr in dashboard_exprs():
                answer = (await client.get("/api/v1/query", params={"query": expr})).json()
                assert answer["status"] == "success", (expr, answer)
            rules = (await client.get("/api/v1/rules")).json()["data"]["groups"][0]["rules"]
            assert {rule["health"] for rule in rules} == {"ok"}, rules
            assert all(rule["state"] == "inactive" for rule in rules)  # a healthy server
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        server.stop()
