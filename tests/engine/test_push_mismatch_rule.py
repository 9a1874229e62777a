"""The bundled ESCU rule on hand-built sessions that sit exactly on each of its thresholds."""

from __future__ import annotations

import pytest
from okta_builders import (
    ATTACKER_IP,
    KNOWN,
    NEW_DEVICE_ONLY,
    NEW_IP_ONLY,
    PHONE_IP,
    push,
    response,
    run_engine,
    sessions_of,
)


def metrics_of(tmp_path, events) -> dict:
    """Metrics of the single group, whether it alerts or not."""
    (group,) = run_engine(tmp_path, events, every_group=True)[0]
    return {**group["metrics"], "alert": group.get("condition", True)}


def spam(session: str, pushes: int, approvals: int = 0, *, gap: float = 30.0, **push_options) -> list[dict]:
    events = [push(session, 10 + i * gap, **push_options) for i in range(pushes)]
    events += [response(session, 12 + i * gap) for i in range(approvals)]
    return events


class TestRatioThreshold:
    def test_ratio_exactly_one_half_does_not_alert(self, tmp_path):
        m = metrics_of(tmp_path, spam("s1", pushes=2, approvals=1))
        assert (m["ratio"], m["total_pushes"], m["total_rejected"], m["alert"]) == (0.5, 2, 0, False)

    def test_ratio_one_third_alerts(self, tmp_path):
        m = metrics_of(tmp_path, spam("s1", pushes=3, approvals=1))
        assert (m["ratio"], m["alert"]) == (0.33, True)

    def test_no_approval_at_all_alerts(self, tmp_path):
        m = metrics_of(tmp_path, [*spam("s1", pushes=2), response("s1", 100, result="UNKNOWN")])
        assert (m["ratio"], m["total_successes"], m["alert"]) == (0.0, 0, True)

    def test_ratio_rounds_half_away_from_zero_before_the_comparison(self, tmp_path):
        # 99 approvals of 200 pushes: 0.495 rounds to 0.50, which is not < 0.5
        m = metrics_of(tmp_path, spam("s1", pushes=200, approvals=99, gap=3))
        assert (m["ratio"], m["alert"]) == (0.5, False)
        m = metrics_of(tmp_path, spam("s2", pushes=199, approvals=98, gap=3))
        assert (m["ratio"], m["alert"]) == (0.49, True)


class TestPushCountThreshold:
    def test_a_single_unanswered_push_does_not_alert(self, tmp_path):
        # a phone-side event that is neither approval nor denial makes dc_ip 2 and isolates the push count
        events = [*spam("s1", pushes=1), response("s1", 100, result="UNKNOWN")]
        m = metrics_of(tmp_path, events)
        assert (m["total_pushes"], m["ratio"], m["dc_ip"], m["total_rejected"], m["alert"]) == (
            1,
            0.0,
            2,
            0,
            False,
        )

    def test_two_unanswered_pushes_alert(self, tmp_path):
        events = [*spam("s1", pushes=2), response("s1", 100, result="UNKNOWN")]
        m = metrics_of(tmp_path, events)
        assert (m["total_pushes"], m["alert"]) == (2, True)

    def test_failed_pushes_are_not_counted(self, tmp_path):
        events = [*spam("s1", pushes=3, result="FAILURE"), response("s1", 100, result="UNKNOWN")]
        m = metrics_of(tmp_path, events)
        assert (m["total_pushes"], m["ratio"], m["alert"]) == (0, None, False)


class TestRejection:
    def test_one_denial_alerts_even_with_a_single_push(self, tmp_path):
        m = metrics_of(tmp_path, [*spam("s1", pushes=1), response("s1", 20, result="FAILURE")])
        assert (m["total_rejected"], m["ratio"], m["alert"]) == (1, 0.0, True)

    def test_denial_without_any_push_has_null_ratio_and_alerts_only_with_the_other_clauses(self, tmp_path):
        m = metrics_of(tmp_path, [response("s1", 20, result="FAILURE")])
        assert (m["ratio"], m["total_pushes"], m["suspect_device_from_source"], m["alert"]) == (
            None,
            0,
            0,
            False,
        )

    def test_denial_of_another_factor_is_not_a_push_response(self, tmp_path):
        events = [*spam("s1", pushes=1), response("s1", 20, result="FAILURE", factor="SMS")]
        m = metrics_of(tmp_path, events)
        assert (m["total_rejected"], m["dc_ip"], m["alert"]) == (0, 1, False)


class TestRoamingAndBehaviors:
    def test_one_ip_for_push_and_response_does_not_alert(self, tmp_path):
        events = [*spam("s1", pushes=1), response("s1", 20, result="FAILURE", ip=ATTACKER_IP)]
        m = metrics_of(tmp_path, events)
        assert (m["dc_ip"], m["alert"]) == (1, False)

    @pytest.mark.parametrize(
        ("behaviors", "device", "ip"), [(KNOWN, 0, 0), (NEW_DEVICE_ONLY, 1, 0), (NEW_IP_ONLY, 0, 1)]
    )
    def test_both_new_device_and_new_ip_are_required(self, tmp_path, behaviors, device, ip):
        events = [*spam("s1", pushes=1, behaviors=behaviors), response("s1", 20, result="FAILURE")]
        m = metrics_of(tmp_path, events)
        assert (m["suspect_device_from_source"], m["suspect_ip_from_source"], m["alert"]) == (
            device,
            ip,
            False,
        )

    def test_a_missing_ip_counts_as_the_value_null(self, tmp_path):
        # after `fillnull value=NULL`, dc(client.ipAddress) sees "NULL" as a value, as in the SPL
        events = [*spam("s1", pushes=1), response("s1", 20, result="FAILURE", ip=None)]
        m = metrics_of(tmp_path, events)
        assert (m["dc_ip"], m["alert"]) == (2, True)

    def test_behaviors_given_as_an_object_are_read_in_okta_form(self, tmp_path):
        behaviors = {"New Device": "POSITIVE", "New IP": "POSITIVE", "Velocity": "NEGATIVE"}
        events = [*spam("s1", pushes=1, behaviors=behaviors), response("s1", 20, result="FAILURE")]
        alerts, result = run_engine(tmp_path, events)
        assert sessions_of(alerts) == ["s1"]
        assert result.report.counts["object_for_string"] == 1


class TestCollapse:
    def test_fan_out_inside_one_two_second_bucket_counts_once(self, tmp_path):
        # one push to three phones at 14:00:10.1/.2/.4 and an approval: no spam
        events = [push("s1", 10.1), push("s1", 10.2), push("s1", 10.4), response("s1", 15)]
        m = metrics_of(tmp_path, events)
        assert (m["total_pushes"], m["ratio"], m["alert"]) == (1, 1.0, False)

    def test_fan_out_across_a_bucket_boundary_counts_twice(self, tmp_path):
        # 14:00:11.9 and 14:00:12.1 are 0.2 s apart but in different epoch-aligned buckets
        events = [push("s1", 11.9), push("s1", 12.1), response("s1", 15)]
        m = metrics_of(tmp_path, events)
        assert (m["total_pushes"], m["ratio"], m["alert"]) == (2, 0.5, False)
        events = [push("s2", 11.9), push("s2", 12.1), push("s2", 12.2), push("s2", 40), response("s2", 45)]
        m = metrics_of(tmp_path, events)
        assert (m["total_pushes"], m["ratio"], m["alert"]) == (3, 0.33, True)

    def test_events_that_differ_in_a_collapse_field_stay_apart(self, tmp_path):
        events = [push("s1", 10.1), push("s1", 10.2, agent="curl/8"), response("s1", 15)]
        m = metrics_of(tmp_path, events)
        assert m["total_pushes"] == 2

    def test_every_event_id_is_kept_and_first_seen_is_the_earliest(self, tmp_path):
        events = [push("s1", 10.4), push("s1", 10.1), push("s1", 30), response("s1", 35, result="FAILURE")]
        (alert,), _ = run_engine(tmp_path, events)
        assert alert["event_ids"] == sorted(event["uuid"] for event in events)
        assert alert["first_seen"] == "2026-03-10T14:00:10.100Z"


class TestGroupsAndWindows:
    def test_null_session_ids_group_as_the_text_null(self, tmp_path):
        events = [*spam(None, pushes=2), response(None, 100, result="UNKNOWN")]
        alerts, _ = run_engine(tmp_path, events)
        assert sessions_of(alerts) == ["NULL"]

    def test_a_missing_session_field_is_the_same_group_as_null(self, tmp_path):
        events = [*spam(None, pushes=1), response(None, 100, result="FAILURE")]
        del events[0]["authenticationContext"]
        alerts, _ = run_engine(tmp_path, events)
        assert sessions_of(alerts) == ["NULL"]

    def test_session_ids_are_case_sensitive(self, tmp_path):
        events = [*spam("idxAbC", pushes=1), response("idxabc", 20, result="FAILURE")]
        alerts, _ = run_engine(tmp_path, events, every_group=True)
        assert sorted(sessions_of(alerts)) == ["idxAbC", "idxabc"]
        assert not any(alert.get("condition", True) for alert in alerts)

    def test_windows_are_epoch_aligned_hours(self, tmp_path):
        # 14:59:59.999 and 15:00:00.000 are in different windows: two pushes, but one per window
        events = [push("s1", 3599.999), push("s1", 3600.0), response("s1", 3600.5, result="UNKNOWN")]
        alerts, _ = run_engine(tmp_path, events, every_group=True)
        windows = [(a["window"]["start"], a["metrics"]["total_pushes"]) for a in alerts]
        assert windows == [("2026-03-10T14:00:00.000Z", 1), ("2026-03-10T15:00:00.000Z", 1)]
        assert alerts[0]["window"]["end"] == "2026-03-10T15:00:00.000Z"

    def test_alert_carries_outputs_and_risk(self, tmp_path):
        events = [
            *spam("s1", pushes=2, user="bob@example.com"),
            response("s1", 100, result="FAILURE", user="bob@example.com"),
        ]
        (alert,), _ = run_engine(tmp_path, events)
        assert alert["fields"] == {"user": ["bob@example.com"], "src": [ATTACKER_IP], "dest": [PHONE_IP]}
        assert alert["rule_id"] == "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"
        assert alert["level"] == "medium"
        assert alert["risk"] == {
            "object": "user",
            "object_type": "user",
            "score": 50,
            "objects": ["bob@example.com"],
        }
