"""The models that compete for serving: the TF-IDF baseline, the precedent lookup and the evidence it stores, their
ensemble, the scoring and choice among them (`selection`) and loading their stored pickles (`stored`). The LoRA
adapter is a candidate too; its folder lives in `ml.adapter`. Imports `ml.data` and `ml.evaluation`."""
