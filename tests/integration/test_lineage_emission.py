"""The data plane's lineage, emitted through the real paths into the embedded lineage database.

Each test runs the demo domain (its own Feast project and data dir, the SQLite online store and
the in-process lineage intake) and asks ``lineage.service`` what was recorded: one apply run per
feature view and feature service with exactly its inputs, definition versions that change only
with the definition, online and quarantine versions that change only with their content, column
lineage, and provenance / impact / usage from a model registered with ``services.sdk``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from lineage import service
from lineage.errors import NotFound
from lineage.identity import (
    NAMESPACE,
    data_source_dataset,
    feature_service_dataset,
    feature_view_dataset,
    job_name,
    online_dataset,
    quarantine_dataset,
    source_dataset,
    training_set_dataset,
)
from services import sdk
from services.definition_versions import definition_hash, service_version, view_version
from services.errors import UnknownFeatureServiceError
from services.ingestion.gate import ingest_file, ingest_frame
from services.sdk import Client
from services.settings import Settings
from tests.demo_repo import write_demo_data
from tests.integration.lineage_pipeline import (
    Project,
    column_lineage,
    data_source_version,
    fields_of,
    job_io,
    lineage_session,
    run_ids,
    run_io,
    version_node,
    versions,
)

BATCH_VIEWS = ("customer_transactions_daily", "customer_profile", "merchant_risk")
V1_VIEWS = {"customer_transactions_daily", "customer_profile", "transaction_risk"}
PROFILE_IN_SERVICES = ["account_age_days", "country", "credit_limit", "kyc_verified"]


@pytest.fixture
def project(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Project]:
    settings = make_settings("sqlite")
    files = write_demo_data(tmp_path / "raw", seed=7, customers=30, days=6)
    client = Client(settings)
    yield Project(settings, client, files)
    client.close()


def _edited_repo(settings: Settings, tmp_path: Path, *lines: str) -> Path:
    """A copy of the feature repo whose definitions end with ``lines``."""
    repo = tmp_path / f"repo{len(list(tmp_path.glob('repo*')))}"
    shutil.copytree(settings.repo_path, repo, ignore=shutil.ignore_patterns("__pycache__"))
    code = (repo / "definitions.py").read_text()
    (repo / "definitions.py").write_text(
        code + "\nfrom datetime import timedelta as _timedelta\n" + "\n".join(lines) + "\n"
    )
    return repo


def test_apply_links_each_view_and_service_to_exactly_its_own_inputs(project: Project) -> None:
    project.apply()
    store = project.client.store
    with lineage_session(project.settings.effective_lineage_database_url) as s:
        for view in BATCH_VIEWS:
            # Feast's own apply event links every source to every view; ours, one source each.
            assert job_io(s, job_name("apply", view)) == (
                {data_source_dataset(view)},
                {feature_view_dataset(view)},
            )
            fv = store.feature_views[view]
            (run,) = run_ids(s, job_name("apply", view))
            assert run_io(s, run) == (
                {version_node(data_source_dataset(view), data_source_version(store, view))},
                {version_node(feature_view_dataset(view), definition_hash(fv))},
            )
            # Column lineage: every field of the view is the same-named column of its source.
            assert column_lineage(s, feature_view_dataset(view), definition_hash(fv)) == {
                (f.name, data_source_dataset(view), f.name) for f in fv.features
            }
        assert job_io(s, job_name("apply", "transaction_risk")) == (
            {feature_view_dataset("customer_transactions_daily")},
            {feature_view_dataset("transaction_risk")},
        )
        for fs, views in (
            ("fraud_detection_v1", V1_VIEWS),
            ("fraud_detection_v2", V1_VIEWS | {"merchant_risk"}),
        ):
            job = job_name("apply_feature_service", fs)
            assert job_io(s, job) == (
                {feature_view_dataset(v) for v in views},
                {feature_service_dataset(fs)},
            )
            (run,) = run_ids(s, job)
            ins, outs = run_io(s, run)
            assert ins == {
                version_node(feature_view_dataset(v), view_version(store, v)) for v in views
            }
            assert outs == {version_node(feature_service_dataset(fs), service_version(store, fs))}
            # The service selects four of customer_profile's five fields, and says which.
            selected = column_lineage(s, feature_service_dataset(fs), service_version(store, fs))
            from_profile = {
                o for o, src, _ in selected if src == feature_view_dataset("customer_profile")
            }
            assert sorted(from_profile) == sorted(PROFILE_IN_SERVICES)
            assert "postcode_hash" not in fields_of(s, feature_service_dataset(fs))


def test_a_definition_change_versions_exactly_what_depends_on_it(
    project: Project, tmp_path: Path
) -> None:
    definitions = [data_source_dataset(v) for v in BATCH_VIEWS]
    definitions += [feature_view_dataset(v) for v in (*BATCH_VIEWS, "transaction_risk")]
    definitions += [
        feature_service_dataset(f) for f in ("fraud_detection_v1", "fraud_detection_v2")
    ]
    url = project.settings.effective_lineage_database_url
    project.apply()
    with lineage_session(url) as s:
        first = {name: versions(s, name) for name in definitions}
    assert all(len(v) == 1 for v in first.values())

    project.apply()  # unchanged: a second run of each apply job, and no new version anywhere
    with lineage_session(url) as s:
        assert {name: versions(s, name) for name in definitions} == first
        assert len(run_ids(s, job_name("apply", "merchant_risk"))) == 2

    project.apply(
        _edited_repo(project.settings, tmp_path, "merchant_risk.ttl = _timedelta(days=99)")
    )
    store = project.client.store
    changed = {feature_view_dataset("merchant_risk"), feature_service_dataset("fraud_detection_v2")}
    with lineage_session(url) as s:
        now = {name: versions(s, name) for name in definitions}
        for name in definitions:
            assert (len(now[name]) == 2) is (name in changed), name
        assert now[feature_view_dataset("merchant_risk")][0] == view_version(store, "merchant_risk")
        # The service's newest apply run read the new view version, not the old one.
        risk = feature_view_dataset("merchant_risk")
        ins, _ = run_io(s, run_ids(s, job_name("apply_feature_service", "fraud_detection_v2"))[0])
        assert version_node(risk, now[risk][0]) in ins
        assert version_node(risk, first[risk][0]) not in ins

    # A batch view an on-demand view reads: the on-demand view and both services move with it.
    project.apply(
        _edited_repo(
            project.settings,
            tmp_path,
            "merchant_risk.ttl = _timedelta(days=99)",
            "customer_transactions_daily.ttl = _timedelta(days=77)",
        )
    )
    with lineage_session(url) as s:
        later = {name: versions(s, name) for name in definitions}
    moved = {name for name in definitions if later[name] != now[name]}
    assert moved == {
        feature_view_dataset("customer_transactions_daily"),
        feature_view_dataset("transaction_risk"),
        feature_service_dataset("fraud_detection_v1"),
        feature_service_dataset("fraud_detection_v2"),
    }


def test_online_and_quarantine_versions_follow_their_content(project: Project) -> None:
    ingested = project.ingest_all()  # before apply: nothing goes online yet
    project.apply()
    store = project.client.store
    url = project.settings.effective_lineage_database_url
    project.materialize()
    with lineage_session(url) as s:
        first = {view: versions(s, online_dataset(view)) for view in BATCH_VIEWS}
        for view in BATCH_VIEWS:
            assert len(first[view]) == 1
            (run,) = run_ids(s, job_name("materialize", view))
            fv = store.feature_views[view]
            assert run_io(s, run) == (
                {
                    version_node(source_dataset(view), ingested[view].dataset_version or ""),
                    version_node(feature_view_dataset(view), definition_hash(fv)),
                },
                {version_node(online_dataset(view), first[view][0])},
            )
            features = [f.name for f in fv.features]
            key = "merchant_id" if view == "merchant_risk" else "customer_id"
            assert fields_of(s, online_dataset(view)) == [key, "event_timestamp", *features]
            assert column_lineage(s, online_dataset(view), first[view][0]) == {
                (f, feature_view_dataset(view), f) for f in features
            }

    project.materialize()  # nothing new: the same rows, so the same online versions
    with lineage_session(url) as s:
        assert {view: versions(s, online_dataset(view)) for view in BATCH_VIEWS} == first
        assert len(run_ids(s, job_name("materialize", "customer_profile"))) == 2

    # A correction ingested after apply updates the online rows of one view: a new version there.
    latest = pd.read_parquet(
        store.settings.offline_dir
        / "customer_transactions_daily"
        / f"{ingested['customer_transactions_daily'].dataset_version}.parquet"
    )
    fix = latest.head(3).copy()
    # Created later than the rows it corrects, yet already in the past: a correction created in
    # the future is not visible yet (it comes online at a later incremental run).
    now = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
    fix["created_timestamp"] = (fix["created_timestamp"] + pd.Timedelta(hours=1)).clip(upper=now)
    assert (fix["created_timestamp"] > latest.head(3)["created_timestamp"]).all()
    fix["txn_count_1d"] = fix["txn_count_1d"] + 1
    corrected = ingest_frame(store, "customer_transactions_daily", fix, origin="corrections")
    assert corrected.online_entities == 3
    with lineage_session(url) as s:
        online = versions(s, online_dataset("customer_transactions_daily"))
        assert len(online) == 2
        assert {v: versions(s, online_dataset(v)) for v in BATCH_VIEWS[1:]} == {
            v: first[v] for v in BATCH_VIEWS[1:]
        }
        _, outs = run_io(s, run_ids(s, job_name("materialize", "customer_transactions_daily"))[0])
        assert outs == {version_node(online_dataset("customer_transactions_daily"), online[0])}

    # Quarantine: versioned by the content of its file, so the same bad rows add no version.
    quarantined = ingested["customer_profile"]
    assert quarantined.quarantined
    assert quarantined.quarantine_path
    digest = hashlib.sha256(Path(quarantined.quarantine_path).read_bytes()).hexdigest()[:16]
    again = ingest_file(store, "customer_profile", project.files.paths["customer_profile"])
    assert again.quarantined == quarantined.quarantined
    with lineage_session(url) as s:
        assert versions(s, quarantine_dataset("customer_profile")) == [f"q{digest}"]
        assert versions(s, source_dataset("customer_profile")) == [quarantined.dataset_version]
        assert len(run_ids(s, job_name("ingest", "customer_profile"))) == 2
        fields = fields_of(s, quarantine_dataset("customer_profile"))
        assert fields[0] == "_row"
        assert fields[-2:] == ["_reasons", "_reason"]
        assert "postcode_hash" in fields


def test_training_sets_and_sdk_models_have_exact_provenance_impact_and_usage(
    project: Project,
) -> None:
    ingested = project.ingest_all()
    project.apply()
    project.materialize()
    store = project.client.store
    entities = project.entities()
    frame, ts2 = project.client.training_set(entities, "fraud_detection_v2", name="fraud")
    _, ts1 = project.client.training_set(
        entities.drop(columns=["merchant_id"]), "fraud_detection_v1", name="fraud-v1"
    )
    sdk.register_model("fraud-model", "1", ts2.version, {"auc": 0.91})
    sdk.register_model("fraud-v1-model", "1", ts1.version, {"auc": 0.88})

    v2_views = V1_VIEWS | {"merchant_risk"}
    expected = {(training_set_dataset("fraud"), ts2.version)}
    expected |= {(source_dataset(v), ingested[v].dataset_version) for v in BATCH_VIEWS}
    expected |= {(data_source_dataset(v), data_source_version(store, v)) for v in BATCH_VIEWS}
    expected |= {(feature_view_dataset(v), view_version(store, v)) for v in v2_views}
    expected |= {
        (
            feature_service_dataset("fraud_detection_v2"),
            service_version(store, "fraud_detection_v2"),
        )
    }
    with lineage_session(project.settings.effective_lineage_database_url) as s:
        found = service.provenance(s, "fraud-model", "1")
        # Exactly what trained it: no online table, quarantine, or the other feature service.
        assert {(d["name"], d["version"]) for d in found["datasetVersions"]} == expected
        assert sorted(r["job"]["name"] for r in found["runs"]) == sorted(
            [job_name("training_set", "fraud")]
            + [job_name("ingest", v) for v in BATCH_VIEWS]
            + [job_name("apply", v) for v in v2_views]
            + [job_name("apply_feature_service", "fraud_detection_v2")]
        )
        assert found["trainingSet"]["rowCount"] == len(entities)

        def models_hit(name: str, version: str) -> set[str]:
            hit = service.impact(s, NAMESPACE, name, version)["modelVersions"]
            return {m["name"] for m in hit}

        both = {"fraud-model", "fraud-v1-model"}
        profile = ingested["customer_profile"].dataset_version or ""
        assert models_hit(source_dataset("customer_profile"), profile) == both
        assert models_hit(
            source_dataset("merchant_risk"), ingested["merchant_risk"].dataset_version or ""
        ) == {"fraud-model"}
        assert models_hit(
            feature_view_dataset("merchant_risk"), view_version(store, "merchant_risk")
        ) == {"fraud-model"}
        v1 = service_version(store, "fraud_detection_v1")
        assert models_hit(feature_service_dataset("fraud_detection_v1"), v1) == {"fraud-v1-model"}
        source = data_source_dataset("customer_transactions_daily")
        assert models_hit(source, data_source_version(store, "customer_transactions_daily")) == both

        # Column lineage of the training set: each feature column <- its view's field, so usage
        # knows which fields no model uses (both services skip customer_profile.postcode_hash).
        views = {**store.feature_views, **store.odfvs}
        assert column_lineage(s, training_set_dataset("fraud"), ts2.version) == {
            (f.name, feature_view_dataset(v), f.name)
            for v in v2_views
            for f in views[v].features
            if f.name in frame.columns  # the service leaves out customer_profile.postcode_hash
        }
        assert fields_of(s, training_set_dataset("fraud")) == list(frame.columns)
        used = service.usage(s, "customer_profile")
        assert used["unusedFields"] == ["postcode_hash"]
        assert {(m["name"], tuple(m["usedFields"])) for m in used["modelVersions"]} == {
            (m, tuple(sorted(PROFILE_IN_SERVICES))) for m in both
        }
        assert [m["name"] for m in service.usage(s, "merchant_risk")["modelVersions"]] == [
            "fraud-model"
        ]


def test_a_training_set_reading_two_versions_of_a_source_links_both(project: Project) -> None:
    ingested = project.ingest_all()
    project.apply()
    store = project.client.store
    first = ingested["customer_profile"].dataset_version or ""
    later = pd.read_parquet(
        store.settings.offline_dir / "customer_profile" / f"{first}.parquet"
    ).head(5)
    later["created_timestamp"] = later["created_timestamp"] + pd.Timedelta(hours=1)
    second = ingest_frame(store, "customer_profile", later, origin="corrections").dataset_version
    _, ts = project.client.training_set(project.entities(), "fraud_detection_v2", name="fraud")
    assert second is not None
    assert set(ts.dataset_versions["customer_profile"]) == {first, second}
    sdk.register_model("fraud-model", "1", ts.version, {})
    with lineage_session(project.settings.effective_lineage_database_url) as s:
        for version in (first, second):
            hit = service.impact(s, NAMESPACE, source_dataset("customer_profile"), version)
            assert [m["name"] for m in hit["modelVersions"]] == ["fraud-model"], version


def test_a_model_names_which_of_two_identical_training_sets_it_was_trained_on(
    project: Project,
) -> None:
    """Training sets of identical content share a version; the SDK passes the name along (or
    infers it when only one local training set holds the version), so lineage links the right
    one, and refuses a model it cannot place rather than guessing."""
    project.ingest_all()
    project.apply()
    entities = project.entities()
    _, first = project.client.training_set(entities, "fraud_detection_v2", name="fraud-a")
    _, second = project.client.training_set(entities, "fraud_detection_v2", name="fraud-b")
    assert first.version == second.version
    sdk.register_model("model-b", "1", second.version, {}, training_set="fraud-b")
    sdk.register_model("model-unplaced", "1", second.version, {})
    with lineage_session(project.settings.effective_lineage_database_url) as s:
        found = service.provenance(s, "model-b", "1")
        assert found["trainingSet"]["name"] == training_set_dataset("fraud-b")
        with pytest.raises(NotFound):
            service.provenance(s, "model-unplaced", "1")


def test_sdk_deployments_link_a_project_feature_service_and_show_where_views_are_served(
    project: Project,
) -> None:
    project.ingest_all()
    project.apply()
    client = project.client
    _, ts = client.training_set(project.entities(), "fraud_detection_v2", name="fraud")
    client.register_model("fraud-model", "1", ts.version, {"auc": 0.9})
    with pytest.raises(UnknownFeatureServiceError):
        client.register_deployment("fraud-model", "1", "prod", "fraud_detection_v9")
    client.register_deployment("fraud-model", "1", "prod", "fraud_detection_v2")
    client.register_deployment("fraud-model", "1", "shadow", "fraud_detection_v1")
    client.register_deployment("ghost-model", "1", "prod", "fraud_detection_v2")
    # Materialized after the training set: its online values come from the same source version.
    project.materialize()
    spool = project.settings.lineage_spool_path
    rejected = spool.with_name(spool.name + ".rejected.jsonl")
    # The unknown model cannot become known by retrying: set aside, not spooled, not raised.
    assert [json.loads(line)["body"]["model"] for line in rejected.read_text().splitlines()] == [
        "ghost-model"
    ]
    assert not spool.exists() or spool.read_text() == ""
    with lineage_session(project.settings.effective_lineage_database_url) as s:
        merchant = service.usage(s, "merchant_risk")["deployments"]
        profile = service.usage(s, "customer_profile")["deployments"]
        hit = service.impact(s, NAMESPACE, training_set_dataset("fraud"), ts.version)
    # merchant_risk is only in v2; customer_profile is in both services.
    assert [(d["environment"], d["featureService"]) for d in merchant] == [
        ("prod", "fraud_detection_v2")
    ]
    assert [(d["environment"], d["featureService"]) for d in profile] == [
        ("prod", "fraud_detection_v2"),
        ("shadow", "fraud_detection_v1"),
    ]
    assert [m["deployments"] for m in hit["modelVersions"]] == [["prod", "shadow"]]
    # A bad merchant_risk source version reaches what prod serves online, through the view.
    with lineage_session(project.settings.effective_lineage_database_url) as s:
        source = versions(s, source_dataset("merchant_risk"))[0]
        online = service.impact(s, NAMESPACE, source_dataset("merchant_risk"), source)
    assert [(d["model"], d["environment"], d["view"]) for d in online["servingDeployments"]] == [
        ("fraud-model", "prod", feature_view_dataset("merchant_risk"))
    ]
