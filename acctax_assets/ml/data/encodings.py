"""How each model input is read from a `tokenizers.Encoding` and the Arrow type a tokenized dataset stores it as.

Shared by dataset tokenization and prediction, which both encode with the Rust backend directly and never pad (so
every row attends to all of its tokens)."""

import pyarrow as pa

ENCODING_FIELDS: dict[str, tuple[str, pa.DataType]] = {
    "input_ids": ("ids", pa.int32()),
    "attention_mask": ("attention_mask", pa.int8()),
    "token_type_ids": ("type_ids", pa.int8()),
}
