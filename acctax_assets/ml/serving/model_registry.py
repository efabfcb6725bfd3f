"""The MLflow Model Registry as the record of what serves (no Dagster).

Every candidate is a version of one registered model (`acctax-account-classifier`): an MLflow pyfunc model
(`ml/serving/pyfunc_model.py`) that serves the candidate's stored folder, tagged with that folder (`acctax.path`), its kind,
its own version, the dataset version and its figures. Versions registered before the MLflow models existed have
the folder itself as their source and still serve through `ledger_predictions`. The alias
`champion` names the served version and `challenger` the best other one that passed its gate. Rolling back is
moving `champion` (MLflow UI, or `acctax champion --set N`); predictions resolve the alias when they run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from acctax_assets.errors import AcctaxError

if TYPE_CHECKING:
    from acctax_assets.ml.serving.served_model import ServingSettings

REGISTERED_MODEL = "acctax-account-classifier"
CHAMPION = "champion"
CHALLENGER = "challenger"
TAG_KIND = "acctax.kind"
TAG_VERSION = "acctax.version"
TAG_CANDIDATE = "acctax.candidate"
TAG_PATH = "acctax.path"
# Whose version: the ledger_dataset every candidate of a comparison was trained on (not tokenized_dataset's).
TAG_DATASET = "acctax.ledger_dataset_version"
# The same tag as versions registered before it said whose version it is; still read.
LEGACY_TAG_DATASET = "acctax.dataset_version"
FIGURE_TAG_PREFIX = "figure."

# The tag the MLflow UI (3.x) reads to choose an experiment's view; without it an experiment is guessed to be GenAI
# and opens on traces, tokens and cost. `custom_model_development` opens it on its runs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"

T = TypeVar("T")


class ModelRegistryError(AcctaxError):
    """The MLflow registry could not be read or written; the message names the (redacted) URI and the fix."""


class NoChampionError(ModelRegistryError):
    """No version carries the `champion` alias yet."""


class ServedFilesMissingError(ModelRegistryError):
    """The alias points at a version whose stored folder is gone: nothing is served silently instead."""


# Where `mlflow ui --backend-store-uri …` serves by default: the UI of a local (sqlite or file) store.
LOCAL_MLFLOW_UI = "http://127.0.0.1:5000"


def mlflow_ui_url(tracking_uri: str, configured: str | None = None) -> str:
    """The MLflow UI that shows runs of `tracking_uri`: the configured address, else the tracking server itself
    (http/https, which serves the UI too, credentials removed), else the local `mlflow ui` default."""
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https"):
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=host)).rstrip("/")
    return LOCAL_MLFLOW_UI


def redact_uri(uri: str) -> str:
    """The URI with any password replaced by ***, for metadata, logs and errors."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class RegisteredCandidate:
    """One registry version: which stored candidate it is and where its files are."""

    registry_version: str
    kind: str
    version: str
    path: Path
    dataset_version: str
    aliases: tuple[str, ...]
    figures: Mapping[str, float]
    # The MLflow run that registered it (the training run); None for a version registered without one.
    run_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.version} (registry v{self.registry_version})"


def check_stored_files(found: RegisteredCandidate, alias: str | None, name: str) -> None:
    """A version whose stored folder is gone is an error naming it and the fix, never served in another's place."""
    if found.path.is_dir():
        return
    held = f"alias {alias!r} of {name} points at version" if alias else f"{name} has version"
    raise ServedFilesMissingError(
        f"{held} {found.registry_version} ({found.kind} {found.version}), whose "
        f"files {found.path} no longer exist; nothing is served in its place. Fix: move the alias to a version whose "
        "files exist (`acctax champion` lists them, `acctax champion --set N` moves it) or re-run training_job"
    )


class ModelRegistry:
    """Thin, error-translating wrapper over MlflowClient for the one registered model."""

    def __init__(self, tracking_uri: str, name: str = REGISTERED_MODEL) -> None:
        self.tracking_uri = tracking_uri
        self.name = name

    def _call(self, action: str, call: Callable[[Any], T]) -> T:
        from mlflow import MlflowClient

        try:
            return call(MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri))
        except AcctaxError:
            raise
        except Exception as exc:
            raise ModelRegistryError(
                f"MLflow model registry at {redact_uri(self.tracking_uri)}: {action} failed ({type(exc).__name__}: {exc}). "
                "Fix: make the store reachable and writable (default sqlite:///$ACCTAX_HOME/mlflow/mlflow.db), or point "
                "the model_registry resource's tracking_uri at the MLflow store the training runs use"
            ) from exc

    def register(
        self,
        kind: str,
        version: str,
        path: Path,
        dataset_version: str,
        figures: Mapping[str, float],
        run_id: str | None,
        serving: ServingSettings | None = None,
    ) -> str:
        """The registry version of this candidate, created on first sight (idempotent: tagged by kind/version) as
        an MLflow pyfunc model logged with `run_id` (the training run) and `serving` (default: ACCTAX_HOME from the
        environment, the default ledger and review settings).
        A version seen before gets its figure tags refreshed: serving reads them (the calibration temperature),
        so a candidate registered before a figure existed must not be served without it."""
        from acctax_assets.ml.serving.pyfunc_model import log_candidate_model
        from acctax_assets.ml.serving.served_model import ServingSettings
        from acctax_assets.paths import AcctaxHome

        candidate = f"{kind}/{version}"
        figure_tags = {f"{FIGURE_TAG_PREFIX}{key}": f"{value:.4f}" for key, value in figures.items()}

        def create(client: Any) -> str:
            if not client.search_registered_models(filter_string=f"name = '{self.name}'"):
                client.create_registered_model(
                    self.name, description="Account-code classifier candidates; alias champion = served"
                )
            found = client.search_model_versions(f"name = '{self.name}' and tags.`{TAG_CANDIDATE}` = '{candidate}'")
            if found:
                existing = found[0]
                for key, value in figure_tags.items():
                    if existing.tags.get(key) != value:
                        client.set_model_version_tag(self.name, existing.version, key, value)
                return str(existing.version)
            model_id = log_candidate_model(
                client,
                self._experiment_id(client, run_id),
                run_id,
                self.name,
                self.tracking_uri,
                kind,
                version,
                serving or ServingSettings(AcctaxHome.from_env().root),
            )
            tags = {
                TAG_KIND: kind,
                TAG_VERSION: version,
                TAG_CANDIDATE: candidate,
                TAG_DATASET: dataset_version,
                TAG_PATH: str(path.resolve()),
                **figure_tags,
            }
            # The model's own artifact location, not models:/<id>: MLflow's SQL registry resolves that URI (and a
            # model id without a run) through the global tracking URI, which need not be this registry's store.
            created = client.create_model_version(
                self.name,
                source=client.get_logged_model(model_id).artifact_location,
                run_id=run_id,
                tags=tags,
                description=f"{kind} {version} trained on ledger_dataset {dataset_version}; serves {path.resolve()}",
                model_id=model_id if run_id else None,
            )
            return str(created.version)

        return self._call(f"registering {candidate}", create)

    def _experiment_id(self, client: Any, run_id: str | None) -> str:
        """The training run's experiment; without a run, one named after the registered model, its artifacts
        beside a SQLite store (MLflow would write them under the working directory)."""
        if run_id:
            return str(client.get_run(run_id).info.experiment_id)
        found = client.get_experiment_by_name(self.name)
        if found is not None:
            return str(found.experiment_id)
        parts = urlsplit(self.tracking_uri)
        location = (
            (Path(unquote(parts.path)).parent / "artifacts").resolve().as_uri() if parts.scheme == "sqlite" else None
        )
        return str(
            client.create_experiment(self.name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING})
        )

    def set_alias(self, alias: str, registry_version: str | None) -> None:
        """Point `alias` at a version (None removes it)."""

        def move(client: Any) -> None:
            if registry_version is None:
                if alias in self._aliases(client):
                    client.delete_registered_model_alias(self.name, alias)
            else:
                client.set_registered_model_alias(self.name, alias, registry_version)

        self._call(f"setting alias {alias!r}", move)

    def _aliases(self, client: Any) -> dict[str, str]:
        models = client.search_registered_models(filter_string=f"name = '{self.name}'")
        return dict(models[0].aliases) if models else {}

    def _candidate(self, client: Any, registry_version: str) -> RegisteredCandidate:
        found = client.get_model_version(self.name, registry_version)
        tags = found.tags
        if TAG_KIND not in tags:
            raise ModelRegistryError(
                f"version {registry_version} of {self.name} was not registered by acctax (no {TAG_KIND} tag). "
                f"Fix: point the alias at a version listed by `acctax champion`"
            )
        return RegisteredCandidate(
            registry_version=str(found.version),
            kind=tags[TAG_KIND],
            version=tags[TAG_VERSION],
            path=Path(tags[TAG_PATH]) if TAG_PATH in tags else Path(unquote(urlsplit(found.source).path)),
            dataset_version=tags.get(TAG_DATASET, tags.get(LEGACY_TAG_DATASET, "")),
            aliases=tuple(found.aliases),
            figures={
                key[len(FIGURE_TAG_PREFIX) :]: float(value)
                for key, value in tags.items()
                if key.startswith(FIGURE_TAG_PREFIX)
            },
            run_id=found.run_id or None,
        )

    def resolve(self, alias: str = CHAMPION, check_files: bool = True) -> RegisteredCandidate:
        """The version behind `alias`, with its files checked: a deleted folder is an error, never a fallback."""

        def lookup(client: Any) -> RegisteredCandidate:
            aliases = self._aliases(client)
            if alias not in aliases:
                raise NoChampionError(
                    f"no version of {self.name} carries the alias {alias!r} in {redact_uri(self.tracking_uri)}. "
                    "Fix: materialize served_classifier (training_job) so a candidate that passes its gate is promoted"
                )
            return self._candidate(client, aliases[alias])

        found = self._call(f"resolving alias {alias!r}", lookup)
        if check_files:
            check_stored_files(found, alias, self.name)
        return found

    def candidate(self, kind: str, version: str) -> RegisteredCandidate:
        """The version registered for candidate `kind`/`version`, its files checked as `resolve` checks them (an
        MLflow model loading it fails with the error `ledger_predictions` gives)."""
        key = f"{kind}/{version}"

        def lookup(client: Any) -> RegisteredCandidate:
            found = client.search_model_versions(f"name = '{self.name}' and tags.`{TAG_CANDIDATE}` = '{key}'")
            if not found:
                raise ModelRegistryError(
                    f"{self.name} in {redact_uri(self.tracking_uri)} has no version of candidate {key}. Fix: load the "
                    "model from the registry the training runs use (MLFLOW_TRACKING_URI), or re-run training_job"
                )
            return self._candidate(client, str(found[0].version))

        found = self._call(f"reading candidate {key}", lookup)
        check_stored_files(found, next((a for a in (CHAMPION, *found.aliases) if a in found.aliases), None), self.name)
        return found

    def version(self, registry_version: str) -> RegisteredCandidate:
        """One registry version as registered, whether or not an alias points at it (its files are not checked)."""
        return self._call(
            f"reading version {registry_version}", lambda client: self._candidate(client, registry_version)
        )

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """Log figures measured after training (the clerk's feedback on the served model) into its training run."""

        def log(client: Any) -> None:
            for key, value in metrics.items():
                client.log_metric(run_id, key, value, step=step)

        self._call(f"logging {sorted(metrics)} into MLflow run {run_id}", log)

    def serving_champion(self) -> dict[str, Any] | None:
        """{"version", "f1_macro"} of the champion serving now (test macro F1 from its tags), for the quality
        gate's regression guard; None before the first promotion."""
        try:
            champion = self.resolve(check_files=False)
        except NoChampionError:
            return None
        return {"version": champion.label, "f1_macro": champion.figures.get("test_f1_macro", 0.0)}

    def versions(self) -> list[RegisteredCandidate]:
        def listing(client: Any) -> list[RegisteredCandidate]:
            if not client.search_registered_models(filter_string=f"name = '{self.name}'"):
                return []
            found = client.search_model_versions(f"name = '{self.name}'")
            return sorted(
                (self._candidate(client, str(v.version)) for v in found), key=lambda c: int(c.registry_version)
            )

        return self._call("listing versions", listing)
