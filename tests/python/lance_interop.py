"""Reads an esmdb store with pylance (the Lance project's Python package), to show that the tables
are plain Lance: `python lance_interop.py STORE DATASET MODEL_ID DIM OUT.json`.

Writes the dataset's variants and the cached vectors of MODEL_ID (layer/pooling keyed) as JSON, for
the Rust side to compare with its own reads.
"""
import json
import sys

import lance


def main() -> None:
    store, dataset, model_id, dim, out = sys.argv[1:6]
    variants = lance.dataset(f"{store}/variants.lance")
    rows = variants.to_table(
        columns=["id", "sequence", "seq_hash", "target", "input_row"],
        filter=f"dataset = '{dataset}'",
    ).to_pylist()
    # Floats as repr() strings: exact, whatever the JSON reader's float parsing does.
    for r in rows:
        r["target"] = None if r["target"] is None else repr(r["target"])
    emb = lance.dataset(f"{store}/embeddings_d{dim}.lance")
    field = emb.schema.field("vector")
    assert str(field.type) == f"fixed_size_list<item: float>[{dim}]", field.type
    vectors = emb.to_table(
        columns=["layer", "pooling", "seq_hash", "vector"],
        filter=f"model_id = '{model_id}'",
    ).to_pylist()
    json.dump(
        {
            "variants_version": variants.version,
            "variants": rows,
            "vectors": [
                {"layer": v["layer"], "pooling": v["pooling"], "seq_hash": v["seq_hash"], "vector": [repr(x) for x in v["vector"]]}
                for v in vectors
            ],
        },
        open(out, "w"),
    )


if __name__ == "__main__":
    main()
