//! What each esmdb function says about itself: the [`Documentation`] its `documentation()` returns (read by
//! `information_schema.routines` and `SHOW FUNCTIONS`) and the shell's `\?` help, written once here so the
//! catalogue reads as one page.
//!
//! DataFusion's async wrapper (`AsyncScalarUDF`) does not pass `documentation()` through, so `embed`,
//! `esm2_embed_pooled` and `esm_score` reach `information_schema` without it; [`all`] lists every function.
use std::sync::LazyLock;

use datafusion::logical_expr::{DocSection, Documentation};

/// The section every esmdb function is filed under.
pub const SECTION: DocSection = DocSection {
    include: true,
    label: "esmdb",
    description: Some(
        "Protein language-model embeddings, their compressions, cross-validated Lasso and zero-shot scores",
    ),
};

/// One function's documentation: name, the sentence that introduces it, its syntax, arguments and example.
struct Entry {
    name: &'static str,
    description: &'static str,
    syntax: &'static str,
    arguments: &'static [(&'static str, &'static str)],
    example: &'static str,
}

const MODEL_ARG: (&str, &str) = (
    "model",
    "A published name (`esm2_t33_650M_UR50D`, `esmc_300m`, `esm1v_t33_650M_UR90S_1`, …) or a checkpoint directory; \
     default: the session's `esmdb.model`",
);
const LAYER_ARG: (&str, &str) = ("layer", "Layer to read (0 = embeddings, -1 = last); default: `esmdb.layer`");

const ENTRIES: &[Entry] = &[
    Entry {
        name: "embed",
        description: "Per-residue embeddings of a protein sequence from a model of any family (ESM2, ESM C, ESM-1b/1v), \
                      one vector per residue. Also called `esm2_embed`. NULL in, NULL out.",
        syntax: "embed(sequence [, model [, layer]])",
        arguments: &[("sequence", "Amino-acid sequence (one-letter codes)"), MODEL_ARG, LAYER_ARG],
        example: "SELECT id, compress_mean(embed(sequence)) FROM variants WHERE dataset = 'IF1_ECOLI' LIMIT 3",
    },
    Entry {
        name: "esm2_embed",
        description: "Per-residue embeddings of a protein sequence (the first name of `embed`, which it equals).",
        syntax: "esm2_embed(sequence [, model [, layer]])",
        arguments: &[("sequence", "Amino-acid sequence (one-letter codes)"), MODEL_ARG, LAYER_ARG],
        example: "SELECT compress_mean(esm2_embed(sequence, 'esm2_t6_8M_UR50D', 6)) FROM variants LIMIT 2",
    },
    Entry {
        name: "esm2_embed_pooled",
        description: "One pooled vector per sequence, read from the store's embedding cache and computed on a miss; \
                      what `compress_mean(embed(…))` and `compress_bos(embed(…))` become at planning.",
        syntax: "esm2_embed_pooled(sequence, pooling [, model [, layer]])",
        arguments: &[
            ("sequence", "Amino-acid sequence (one-letter codes)"),
            ("pooling", "'mean' (over residues) or 'bos' (the <cls> vector)"),
            MODEL_ARG,
            LAYER_ARG,
        ],
        example: "SELECT esm2_embed_pooled(sequence, 'mean') FROM variants LIMIT 2",
    },
    Entry {
        name: "compress_mean",
        description: "Mean over residues of a per-residue embedding: the paper's best compression. \
                      Over `embed(…)` it reads and fills the store's cache.",
        syntax: "compress_mean(embedding)",
        arguments: &[("embedding", "A per-residue embedding, e.g. `embed(sequence)`")],
        example: "SELECT id, compress_mean(embed(sequence)) AS v FROM variants LIMIT 3",
    },
    Entry {
        name: "compress_bos",
        description: "The <cls> (beginning-of-sequence) vector of an embedding; only over `embed(…)` directly.",
        syntax: "compress_bos(embed(sequence [, model [, layer]]))",
        arguments: &[("embedding", "`embed(sequence …)` itself (a residue matrix has no <cls> row)")],
        example: "SELECT id, compress_bos(embed(sequence)) FROM variants LIMIT 3",
    },
    Entry {
        name: "compress_max",
        description: "Element-wise maximum over residues of a per-residue embedding.",
        syntax: "compress_max(embedding)",
        arguments: &[("embedding", "A per-residue embedding, e.g. `embed(sequence)`")],
        example: "SELECT id, compress_max(embed(sequence)) FROM variants LIMIT 3",
    },
    Entry {
        name: "compress_idct",
        description: "The paper's iDCT quantization of a per-residue embedding: n·m values in 0..127 \
                      (iDCT1 = (5, 44), iDCT2 = (10, 64)).",
        syntax: "compress_idct(embedding, n, m)",
        arguments: &[
            ("embedding", "A per-residue embedding, e.g. `embed(sequence)`"),
            ("n", "Rows kept of the residue-axis DCT"),
            ("m", "Columns kept of the feature-axis DCT"),
        ],
        example: "SELECT id, compress_idct(embed(sequence), 5, 44) FROM variants LIMIT 3",
    },
    Entry {
        name: "compress_pca",
        description: "The paper's PCA compression: per sequence, the k leading principal-component scores of its \
                      residues for each dimension (k·D values), as scikit-learn's MinMaxScaler + PCA compute them.",
        syntax: "compress_pca(embedding, k)",
        arguments: &[
            ("embedding", "A per-residue embedding, e.g. `embed(sequence)`"),
            ("k", "Components kept (1 or 2 in the paper)"),
        ],
        example: "SELECT id, compress_pca(embed(sequence), 1) FROM variants LIMIT 3",
    },
    Entry {
        name: "onehot",
        description: "One-hot features of a sequence, 20 per position (a gap all zeros): ProteinGym's supervised baseline.",
        syntax: "onehot(sequence)",
        arguments: &[("sequence", "Amino-acid sequence (one-letter codes)")],
        example: "SELECT lasso_cv_eval(onehot(sequence), target ORDER BY input_row) FROM variants WHERE dataset = 'IF1_ECOLI'",
    },
    Entry {
        name: "concat_features",
        description: "A feature vector with values appended (NULL when any is NULL), such as an embedding and a zero-shot score.",
        syntax: "concat_features(vector, x1 [, x2 …])",
        arguments: &[("vector", "A feature vector"), ("x1, x2, …", "Numbers appended in order")],
        example: "SELECT concat_features(compress_mean(embed(sequence)), esm_score(sequence, mutant)) FROM variants LIMIT 2",
    },
    Entry {
        name: "lasso_cv",
        description: "Aggregate: a cross-validated Lasso fit of target on features over the group \
                      ({alpha, intercept, coef, n_nonzero, cv_mse, r2_train}), as scikit-learn's LassoCV.",
        syntax: "lasso_cv(features, target [, options] ORDER BY input_row)",
        arguments: &[
            ("features", "A vector per row, e.g. `compress_mean(embed(sequence))`"),
            ("target", "The measured fitness"),
            (
                "options",
                "e.g. 'preset=readme, folds=5, seed=42, tol=1e-5, max_iter=10000'; default: the paper's protocol",
            ),
        ],
        example: "SELECT lasso_cv(compress_mean(embed(sequence)), target ORDER BY input_row) FROM variants WHERE dataset = 'IF1_ECOLI'",
    },
    Entry {
        name: "lasso_cv_eval",
        description: "Aggregate: the paper's protocol, one struct per outer fold {fold, alpha, n_nonzero, r2/mae/rmse \
                      train and test, rho_train, rho_test}; `unnest` it for one row per fold.",
        syntax: "lasso_cv_eval(features, target [, options [, mutant | fold]] ORDER BY input_row)",
        arguments: &[
            ("features", "A vector per row, e.g. `compress_mean(embed(sequence))`"),
            ("target", "The measured fitness"),
            ("options", "e.g. 'scheme=modulo, folds=5, seed=42'; schemes: random (default), modulo, contiguous, given"),
            (
                "mutant",
                "The row's mutations (`Q2C:A5G`) for the modulo and contiguous schemes, or its fold label (an integer \
                 column such as ProteinGym's fold_modulo_5) for scheme=given",
            ),
        ],
        example: "SELECT dataset, unnest(lasso_cv_eval(compress_mean(embed(sequence)), target ORDER BY input_row)) \
                  FROM variants GROUP BY dataset",
    },
    Entry {
        name: "lasso_predict",
        description: "Predictions of a `lasso_cv` fit for new feature vectors.",
        syntax: "lasso_predict(fit, features)",
        arguments: &[("fit", "A `lasso_cv(…)` result"), ("features", "A vector per row, as in the fit")],
        example: "SELECT v.id, lasso_predict(f.fit, compress_mean(embed(v.sequence))) FROM variants v CROSS JOIN \
                  (SELECT lasso_cv(compress_mean(embed(sequence)), target ORDER BY input_row) AS fit FROM variants) f",
    },
    Entry {
        name: "spearman",
        description: "Aggregate: Spearman's ρ of the group's pairs as scipy's spearmanr computes it (average ranks for \
                      ties, NULL pairs left out, NULL when undefined).",
        syntax: "spearman(x, y)",
        arguments: &[("x", "A number per row"), ("y", "A number per row")],
        example: "SELECT dataset, spearman(esm_score(sequence, mutant), target) FROM variants GROUP BY dataset",
    },
    Entry {
        name: "ndcg",
        description: "Aggregate: ProteinGym's NDCG of the top decile, as its calc_ndcg computes it. Gains are the \
                      targets min-max scaled; the DCG of the ⌊n/10⌋ best-scored variants is divided by that of the \
                      best targets; tied scores share their ranks' mean discount.",
        syntax: "ndcg(score, target)",
        arguments: &[("score", "The model's score (higher = fitter)"), ("target", "The assay's DMS_score")],
        example: "SELECT dataset, ndcg(esm_score(sequence, mutant), target) FROM variants GROUP BY dataset",
    },
    Entry {
        name: "top_recall",
        description: "Aggregate: ProteinGym's top recall (its calc_toprecall): of the variants in the target's top \
                      percentile band, the fraction also in the score's.",
        syntax: "top_recall(score, target [, top])",
        arguments: &[
            ("score", "The model's score (higher = fitter)"),
            ("target", "The assay's DMS_score"),
            ("top", "The band in percent, a constant in (0, 100]; default 10, ProteinGym's"),
        ],
        example: "SELECT dataset, top_recall(esm_score(sequence, mutant), target) FROM variants GROUP BY dataset",
    },
    Entry {
        name: "auc",
        description: "Aggregate: ROC AUC of the score against a binary label (scikit-learn's roc_auc_score, as \
                      ProteinGym scores DMS_score_bin); NULL with one class.",
        syntax: "auc(score, label)",
        arguments: &[
            ("score", "The model's score (higher = fitter)"),
            ("label", "1 (or true) for a fit variant, else 0"),
        ],
        example: "SELECT dataset, auc(esm_score(sequence, mutant), target > 0) FROM variants GROUP BY dataset",
    },
    Entry {
        name: "mcc",
        description: "Aggregate: ProteinGym's MCC, the score binarized at its median against a binary label \
                      (scikit-learn's matthews_corrcoef).",
        syntax: "mcc(score, label)",
        arguments: &[
            ("score", "The model's score (higher = fitter)"),
            ("label", "1 (or true) for a fit variant, else 0"),
        ],
        example: "SELECT dataset, mcc(esm_score(sequence, mutant), target > 0) FROM variants GROUP BY dataset",
    },
    Entry {
        name: "esm_score",
        description: "Zero-shot score of a variant from the model's masked-LM head: the sum over mutated positions of \
                      log p(mutant) − log p(wild type), as fair-esm's variant-prediction example; cached per wild type.",
        syntax: "esm_score(sequence, mutant [, method [, model [, layer]]])",
        arguments: &[
            ("sequence", "The variant's sequence"),
            ("mutant", "Its mutations, 1-based: `Q2C` or `Q2C:A5G` (empty or `WT` scores 0)"),
            ("method", "'masked-marginals' (default) or 'wt-marginals'"),
            MODEL_ARG,
            ("layer", "Must name the last layer (the head reads it); default: the last"),
        ],
        example: "SELECT dataset, spearman(esm_score(sequence, mutant), target) FROM variants GROUP BY dataset",
    },
];

static DOCS: LazyLock<Vec<(&'static str, Documentation)>> = LazyLock::new(|| {
    ENTRIES
        .iter()
        .map(|e| {
            let mut doc = Documentation::builder(SECTION, e.description, e.syntax).with_sql_example(e.example);
            for (name, text) in e.arguments {
                doc = doc.with_argument(*name, *text);
            }
            (e.name, doc.build())
        })
        .collect()
});

/// The documentation of the esmdb function called `name`.
pub fn of(name: &str) -> Option<&'static Documentation> {
    DOCS.iter().find(|(n, _)| *n == name).map(|(_, d)| d)
}

/// Every esmdb function's documentation, in the catalogue's order (embeddings, compressions, regression, scores).
pub fn all() -> impl Iterator<Item = (&'static str, &'static Documentation)> {
    DOCS.iter().map(|(n, d)| (*n, d))
}

/// The shell's `\?`: every esmdb function on one line (its syntax and first sentence) with an example under it.
pub fn help() -> String {
    let mut out = String::from(
        "esmdb's functions (`\\? NAME` shows one in full; DataFusion's own are in `SHOW FUNCTIONS LIKE 'name%'` and \
         `information_schema.routines`):\n",
    );
    for (_, doc) in all() {
        let first = doc.description.split_inclusive(". ").next().unwrap_or(&doc.description).trim_end();
        out.push_str(&format!("  {} — {}\n", doc.syntax_example, first));
        if let Some(example) = &doc.sql_example {
            out.push_str(&format!("      e.g. {example}\n"));
        }
    }
    out.push_str("Shell commands: \\? [NAME] this help, \\q quit; Ctrl-C cancels a running query, Ctrl-D quits.\n");
    out
}

/// The shell's `\? NAME`: one function's whole documentation, or `None` when no esmdb function has that name.
pub fn help_for(name: &str) -> Option<String> {
    let doc = of(name.trim().to_ascii_lowercase().as_str())?;
    let mut out = format!("{}\n  {}\n", doc.syntax_example, doc.description);
    if let Some(arguments) = &doc.arguments {
        out.push_str("Arguments:\n");
        for (arg, text) in arguments {
            out.push_str(&format!("  {arg}: {text}\n"));
        }
    }
    if let Some(example) = &doc.sql_example {
        out.push_str(&format!("Example:\n  {example}\n"));
    }
    Some(out)
}
