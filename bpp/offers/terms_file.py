"""Reading offer terms from a YAML file, with errors that point at the file, the entry and the field.

Format (one entry per grid node and direction; fields as in `OfferTermsIn`)::

    offers:
      - grid_node: transformer:TX-17
        direction: REDUCE            # REDUCE or INCREASE net load
        price_per_kwh: "0.25"        # quote money as strings to keep it exact
        reservation_price_per_kw: null
        currency: INR
        min_kw: 10
        max_kw: 500
        response_time_s: 300
        min_notice_s: 900
        max_duration_s: 14400
        max_events_per_day: 2
        baseline_method: X_OF_Y_10_10  # X_OF_Y_<x>_<y> or METER_BEFORE_AFTER
        cancel_before_s: 3600
        cancellation_fee: "50"
        reliability_headroom: 0.1    # 0 … 0.5, share of controllable kW never sold
        active: true
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bpp.offers.errors import OfferFileError
from bpp.offers.schemas import OfferTermsEntry


def read_terms_file(path: Path) -> list[OfferTermsEntry]:
    """Parse and validate every entry; the first file-level problem or all entry problems are reported."""
    try:
        data: Any = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise OfferFileError(path, f"cannot read the file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise OfferFileError(path, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("offers"), list):
        raise OfferFileError(path, "expected a list of offer terms under `offers:`")
    entries: list[OfferTermsEntry] = []
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(data["offers"]):
        label = _label(index, raw)
        if not isinstance(raw, dict):
            problems.append(f"{label}: expected a mapping of fields")
            continue
        try:
            entry = OfferTermsEntry.model_validate(raw)
        except ValidationError as exc:
            problems.extend(f"{label}: {_field_problem(error)}" for error in exc.errors())
            continue
        key = (entry.grid_node, entry.direction)
        if key in seen:
            problems.append(f"{label}: repeats offers[{seen[key]}] ({entry.grid_node} {entry.direction})")
            continue
        seen[key] = index
        entries.append(entry)
    if problems:
        raise OfferFileError(path, "; ".join(problems))
    return entries


def _label(index: int, raw: object) -> str:
    if isinstance(raw, dict) and raw.get("grid_node") and raw.get("direction"):
        return f"offers[{index}] ({raw['grid_node']} {raw['direction']})"
    return f"offers[{index}]"


def _field_problem(error: ErrorDetails) -> str:
    field = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}" if field else message
