"""How good a model is and how far its confidence can be trusted: the per-row valid/test outputs every candidate
stores (`outputs`), metrics, calibration, the review threshold and trade-off (`confidence`), the evaluation artefacts
(`reports`) and the clerk's production figure (`feedback`). Imports `ml.data` only."""
