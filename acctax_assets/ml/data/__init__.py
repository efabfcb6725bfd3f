"""Ledger rows to model inputs: the base model's folder, the label slots (code -> class slot, `label_slots`), model text, time
splits, the Hugging Face dataset, tokenization, vocabulary extension and how encodings are stored. Imports `ledger/`,
never another room of `ml/`."""
