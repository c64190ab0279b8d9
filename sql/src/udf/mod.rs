//! esmdb's SQL functions. Each carries only an [`EngineConfig`](crate::options::EngineConfig) (plain
//! strings and numbers); models and stores are opened where the function runs.
pub mod compress;
pub mod concat;
pub mod embed;
pub mod idct;
pub mod lasso;
pub mod onehot;
pub mod pca;
pub mod predict;
pub mod score;
pub mod spearman;
pub mod vectors;

use datafusion::error::Result;
use datafusion::prelude::SessionContext;

use crate::options::EngineConfig;

/// Registers every esmdb function with `ctx`, their planning defaults taken from `config`.
pub fn register(ctx: &SessionContext, config: &EngineConfig) -> Result<()> {
    register_config_dependent(ctx, config);
    ctx.register_udf(onehot::OneHot::udf());
    ctx.register_udf(concat::ConcatFeatures::udf());
    ctx.register_udf(idct::CompressIdct::udf());
    ctx.register_udf(pca::CompressPca::udf());
    ctx.register_udf(predict::LassoPredict::udf());
    ctx.register_udaf(lasso::LassoAggregate::udaf(lasso::LassoFunction::Fit));
    ctx.register_udaf(lasso::LassoAggregate::udaf(lasso::LassoFunction::Eval));
    ctx.register_udaf(spearman::SpearmanUdaf::udaf());
    Ok(())
}

/// (Re-)registers the functions whose planning depends on the `esmdb.*` settings (the default
/// model types `esm2_embed`'s result); called again after every `SET esmdb.…`.
pub fn register_config_dependent(ctx: &SessionContext, config: &EngineConfig) {
    use compress::{Compress, Compression};
    ctx.register_udf(embed::Esm2Embed::udf(config.clone()));
    ctx.register_udf(embed::Esm2Embed::named(embed::EMBED, config.clone()));
    ctx.register_udf(embed::Esm2EmbedPooled::udf(config.clone()));
    ctx.register_udf(score::EsmScore::udf(config.clone()));
    for kind in [Compression::Mean, Compression::Bos, Compression::Max] {
        ctx.register_udf(Compress::udf(kind, config.clone()));
    }
}
