//! esmdb's SQL functions. Each carries only an [`EngineConfig`](crate::options::EngineConfig) (plain
//! strings and numbers); models and stores are opened where the function runs.
pub mod assay_metrics;
pub mod compress;
pub mod concat;
pub mod doc;
pub mod embed;
pub mod idct;
pub mod lasso;
pub mod onehot;
pub mod pca;
pub mod predict;
pub mod score;
pub mod vectors;

use datafusion::error::Result;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::options::EngineConfig;

/// Registers every esmdb function with `ctx`, their planning defaults taken from `config`.
pub fn register(ctx: &SessionContext, config: &EngineConfig) -> Result<()> {
    register_config_dependent(ctx, config);
    for f in fixed_scalar_udfs() {
        ctx.register_udf(f);
    }
    for f in aggregate_udfs() {
        ctx.register_udaf(f);
    }
    Ok(())
}

/// (Re-)registers the functions whose planning depends on the `esmdb.*` settings (the default
/// model types `esm2_embed`'s result); called again after every `SET esmdb.…`.
pub fn register_config_dependent(ctx: &SessionContext, config: &EngineConfig) {
    for f in config_dependent_udfs(config) {
        ctx.register_udf(f);
    }
}

/// Every esmdb scalar function, planning defaults from `config`: what a process that plans or runs
/// esmdb plans without a [`Session`](crate::Session) registers (a cluster's scheduler and executors).
pub fn scalar_udfs(config: &EngineConfig) -> Vec<ScalarUDF> {
    let mut all = config_dependent_udfs(config);
    all.extend(fixed_scalar_udfs());
    all
}

/// Every esmdb aggregate function.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    let mut all =
        vec![lasso::LassoUdaf::udaf(lasso::LassoFunction::Fit), lasso::LassoUdaf::udaf(lasso::LassoFunction::Eval)];
    all.extend(assay_metrics::AssayMetric::ALL.map(assay_metrics::AssayMetricUdaf::udaf));
    all
}

fn config_dependent_udfs(config: &EngineConfig) -> Vec<ScalarUDF> {
    use compress::{CompressUdf, Compression};
    let mut all = vec![
        embed::Esm2EmbedUdf::udf(config.clone()),
        embed::Esm2EmbedUdf::named(embed::EMBED, config.clone()),
        embed::Esm2EmbedPooledUdf::udf(config.clone()),
        score::EsmScoreUdf::udf(config.clone()),
    ];
    for kind in [Compression::Mean, Compression::Bos, Compression::Max] {
        all.push(CompressUdf::udf(kind, config.clone()));
    }
    all
}

fn fixed_scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        onehot::OneHotUdf::udf(),
        concat::ConcatFeaturesUdf::udf(),
        idct::CompressIdctUdf::udf(),
        pca::CompressPcaUdf::udf(),
        predict::LassoPredictUdf::udf(),
    ]
}
