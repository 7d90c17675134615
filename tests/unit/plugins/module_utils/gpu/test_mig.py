"""plugins/module_utils/gpu/mig.py, table-driven: the cases are in mig_cases.yaml beside this file.

Each case builds a host with the fake pynvml (real A100 / H100 / T4 profiles and placements),
reads it with nvml.read_facts, loads a layout file with mig.load_layout_file, selects a layout
and plans it. A case expects either a LayoutError whose message holds every `error` string, or
the `plan` (instances as profile@start). With `replan`, the plan is then applied to the fake
through nvml.Nvml, the host read again and planned again.
"""

from __future__ import annotations

from pathlib import Path

import fake_pynvml
import pytest
import yaml

from ansible_collections.inferops.kubernetes.plugins.module_utils.gpu import mig, nvml


CASES = yaml.safe_load(Path(__file__).with_name("mig_cases.yaml").read_text(encoding="utf-8"))["cases"]


def _params():
    for case in CASES:
        yield pytest.param(case, id=case["id"])


def _host(case):
    gpus = [fake_pynvml.gpu(**g) for g in case.get("gpus", [])]
    return fake_pynvml.FakePynvml(*gpus, **case.get("fake", {}))


def _plan(fake, case):
    facts = nvml.read_facts(fake)
    document = mig.load_layout_file(case["layout"])
    entries = mig.select_layout(document, case["select"])
    return mig.plan(entries, facts["gpus"])


def _spots(instances):
    return ["%s@%d" % (i["profile"], i["placement"]["start"]) for i in sorted(instances, key=lambda i: i["placement"]["start"])]


def _summary(plans):
    return [{"index": p["index"], "changed": p["changed"], "mig_mode": p["mig_mode"],
             "create": _spots(p["create"]), "destroy": _spots(p["destroy"]), "keep": _spots(p["keep"])}
            for p in plans]


def _apply(fake, plans):
    """What mig_config does with a plan, through nvml.Nvml: mode, then destroy, then create."""
    with nvml.Nvml(fake) as session:
        handles = session.handles()
        for p in plans:
            handle = handles[p["index"]]
            current, desired = p["mig_mode"]["current"], p["mig_mode"]["desired"]
            if desired and not current:
                assert session.set_mig_mode(handle, True)
            profiles = {x["name"]: x for x in session.mig_profiles(handle)}
            live = {g["gi_id"]: g["handle"] for g in session.gpu_instances(handle, list(profiles.values()))}
            for gone in p["destroy"]:
                session.destroy_gpu_instance(live[gone["gpu_instance_id"]])
            for new in p["create"]:
                session.create_gpu_instance(handle, profiles[new["profile"]], new["placement"])
            if desired is False and current:
                assert session.set_mig_mode(handle, False)


@pytest.mark.parametrize("case", list(_params()))
def test_layout(case):
    fake = _host(case)
    if "error" in case:
        with pytest.raises(mig.LayoutError) as err:
            _plan(fake, case)
        for text in case["error"]:
            assert text in str(err.value)
        assert fake.mutations == []
        return
    plans = _plan(fake, case)
    assert _summary(plans) == case["plan"]
    assert fake.mutations == []  # planning reads, never writes
    if "replan" in case:
        _apply(fake, plans)
        assert fake.mutations, "the plan changed nothing on the fake"
        applied = len(fake.mutations)
        assert _summary(_plan(fake, case)) == case["replan"]
        assert len(fake.mutations) == applied


def test_every_case_is_checked():
    """A case with neither an error nor a plan would pass without testing anything."""
    for case in CASES:
        assert ("error" in case) != ("plan" in case), case["id"]
        assert "replan" not in case or "plan" in case, case["id"]
    assert len({c["id"] for c in CASES}) == len(CASES)
