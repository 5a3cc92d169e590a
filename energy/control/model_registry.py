"""Persisting trained models: joblib artifacts under the data directory plus registry rows.

Each target's fitted model is one artifact, `<data_dir>/models/<version>.joblib`, and one row in
the store's `forecast_models` (version, target, kind, training window, features, parameters,
in-sample metrics, artifact path). Versions look like `20261124T061500Z-3fa2b1c9`: the creation
time and a digest of target and configuration, so models trained together sort together.

Artifacts are pickles: load only files this platform wrote. The scikit-learn version used for
training is recorded; loading under another version logs a warning (tree models usually load,
but are not guaranteed to).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import joblib
import sklearn

from energy.config import SiteConfig
from energy.site import Site
from energy.store.engine import Store
from energy.store.forecasts import ModelRecord, get_model, latest_model, register_model
from forecasting.config import ForecastConfig
from forecasting.service import ForecastService, TargetModel

__all__ = ["load_service", "models_dir", "save_service"]

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = 1


def models_dir(site: SiteConfig) -> Path:
    """`<data_dir>/models`; KV_DATA_DIR overrides the configured data_dir (as for the store)."""
    return Path(os.environ.get("KV_DATA_DIR") or site.store.data_dir) / "models"


def _version(target: str, created_at: dt.datetime, config: ForecastConfig) -> str:
    stamp = created_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha1(
        f"{target}|{stamp}|{config.model_dump_json()}".encode(), usedforsecurity=False
    ).hexdigest()[:8]
    return f"{stamp}-{digest}"


def save_service(
    service: ForecastService,
    store: Store,
    directory: Path | None = None,
    created_at: dt.datetime | None = None,
) -> dict[str, str]:
    """Write every fitted model of `service` and register it; returns target -> version."""
    if not service.models:
        raise RuntimeError("save_service: the service has no fitted models")
    folder = directory or models_dir(service.site.config)
    folder.mkdir(parents=True, exist_ok=True)
    when = created_at or dt.datetime.now(dt.UTC)
    config_json = json.loads(service.config.model_dump_json())
    versions: dict[str, str] = {}
    for name, fitted in service.models.items():
        version = _version(name, when, service.config)
        path = folder / f"{version}.joblib"
        fitted.version = version
        joblib.dump(
            {
                "format": ARTIFACT_FORMAT,
                "sklearn": sklearn.__version__,
                "config": config_json,
                "model": fitted,
            },
            path,
        )
        register_model(
            store,
            ModelRecord(
                version=version,
                target=name,
                kind=service.config.model.kind,
                created_at=when,
                training_start=fitted.training_start.to_pydatetime(),
                training_end=fitted.training_end.to_pydatetime(),
                features=fitted.builder.columns,
                params={
                    "model": service.config.model.params,
                    "quantiles": service.config.quantiles,
                    "horizon_h": service.config.horizon_h,
                    "config": config_json,
                    "sklearn": sklearn.__version__,
                },
                metrics=fitted.metrics,
                artifact_path=str(path),
            ),
        )
        versions[name] = version
        log.info("saved model %s for %s at %s", version, name, path)
    return versions


def _load_artifact(record: ModelRecord) -> dict[str, Any]:
    if not record.artifact_path:
        raise FileNotFoundError(f"model {record.version} has no artifact path in the registry")
    path = Path(record.artifact_path)
    if not path.exists():
        raise FileNotFoundError(
            f"model {record.version} ({record.target}): artifact {path} is missing"
        )
    artifact = joblib.load(path)
    if not isinstance(artifact, dict) or artifact.get("format") != ARTIFACT_FORMAT:
        raise ValueError(f"{path}: not a forecasting artifact of format {ARTIFACT_FORMAT}")
    if artifact.get("sklearn") != sklearn.__version__:
        log.warning(
            "model %s was trained with scikit-learn %s, loading under %s",
            record.version,
            artifact.get("sklearn"),
            sklearn.__version__,
        )
    return artifact


def load_service(
    site: Site,
    store: Store,
    versions: list[str] | None = None,
    targets: list[str] | None = None,
) -> ForecastService:
    """A ForecastService with registered models: the given versions, else the newest model of
    each target (all targets of the site unless `targets` names some)."""
    if versions:
        records = []
        for version in versions:
            record = get_model(store, version)
            if record is None:
                raise KeyError(f"no forecast model with version {version!r} in the registry")
            records.append(record)
    else:
        wanted = targets or [t.name for t in ForecastService(site).targets]
        records = []
        for name in wanted:
            record = latest_model(store, name)
            if record is None:
                raise KeyError(f"no trained model for target {name!r}: run `kv forecast train`")
            records.append(record)
    artifacts = [_load_artifact(r) for r in records]
    config = ForecastConfig.model_validate(artifacts[0]["config"])
    service = ForecastService(site, config, targets=[r.target for r in records])
    for record, artifact in zip(records, artifacts, strict=True):
        fitted: TargetModel = artifact["model"]
        fitted.version = record.version
        service.models[record.target] = fitted
    return service
