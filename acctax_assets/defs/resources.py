"""Settings shared by the ledger assets and their checks, validated by pydantic."""

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field, model_validator

from acctax_assets.ledger.cleaning import CleaningRules
from acctax_assets.ledger.column_map import ColumnMap, load_column_map
from acctax_assets.ledger.features import DEFAULT_FEATURES
from acctax_assets.ledger.landing import LandingMonths
from acctax_assets.paths import AcctaxHome


class LedgerSettings(ConfigurableResource):
    """Where ledger files live and how strictly they are judged; every field can be set in the launchpad."""

    home: str | None = Field(default=None, description="ACCTAX_HOME override; default: $ACCTAX_HOME or ./.acctax")
    max_abs_amount: int = Field(default=100_000_000_000, gt=0, description="Amounts beyond ± this (KRW) are outliers")
    amount_tolerance: int = Field(default=10, ge=0, le=10_000, description="Allowed |supply + VAT - total| in KRW")
    reject_warn_share: float = Field(default=0.05, ge=0, le=1, description="Rejected share above this warns")
    reject_error_share: float = Field(default=0.25, ge=0, le=1, description="Rejected share above this blocks")
    max_duplicate_share: float = Field(default=0.02, ge=0, le=1, description="Duplicate share above this warns")
    max_feature_null_rate: float = Field(default=0.05, ge=0, le=1, description="Key-feature null rate above this warns")
    features: list[str] = Field(default=list(DEFAULT_FEATURES), min_length=1, description="Ordered model features")

    @model_validator(mode="after")
    def _shares_ordered(self) -> "LedgerSettings":
        if self.reject_warn_share > self.reject_error_share:
            raise ValueError("reject_warn_share must not exceed reject_error_share")
        return self

    @property
    def acctax_home(self) -> AcctaxHome:
        if self.home is None:
            return AcctaxHome.from_env()
        return AcctaxHome(Path(self.home).expanduser().resolve())

    @property
    def rules(self) -> CleaningRules:
        return CleaningRules(
            max_abs_amount=self.max_abs_amount, amount_tolerance=self.amount_tolerance, chart=self.column_map().chart
        )

    def column_map(self) -> ColumnMap:
        return load_column_map(self.acctax_home.column_map_override)

    def landing_months(self) -> LandingMonths:
        """The one decider of landing files' months, with the cache every sensor tick and run shares."""
        home = self.acctax_home
        return LandingMonths(home.landing, self.column_map(), cache_file=home.landing_months)
